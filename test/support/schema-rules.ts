/**
 * The Convex backend's rules for a schema's tables and indexes, restated so tests can check the
 * schema a push carries before a real backend would refuse it: neither the CLI, tsc, convex-test
 * nor local mode checks them (a second `.index("by_parent_status", …)` on one table passed all
 * four).
 *
 * Source: get-convex/convex-backend,
 * - `crates/common/src/schemas/json.rs` (`TryFrom<JsonValue> for TableDefinition`): table name
 *   an identifier and not a system name; index count; no empty index; no two indexes with the
 *   same fields (`IndexNotUnique`); no two search indexes on one field; index names valid and
 *   unique across database, search and vector indexes (`IndexNamesNotUnique`).
 * - `crates/common/src/bootstrap_model/index/index_validation_error.rs`: the messages and
 *   identifier rule (64 characters, a letter first, then letters, digits, underscores); names
 *   starting with `_`, `by_id` and `by_creation_time` are reserved.
 * - `crates/model/src/…/_validate_user_defined_index_fields`: no `_creationTime`, `_id` or other
 *   `_` field in an index; `_creationTime` is appended, and an index holds at most 16 fields
 *   (`MAX_INDEX_FIELDS_SIZE`), each once.
 * - Convex docs, "Limits": 32 indexes per table on Convex Cloud (the open-source backend allows
 *   64; the stricter one is kept).
 * - Validators (`validatorProblems`), for table documents and every function's arguments and
 *   return value, from the same json.rs (`TryFrom<ValidatorJson> for Validator`,
 *   `TryFrom<JsonValue> for ObjectValidator`) and `crates/value/src/field_name.rs` and
 *   `identifier.rs`: an object's field names are identifiers (64 characters at most, a letter or
 *   `_` first, then letters, digits, `_`, not only `_`) and never start with `$`; a record's keys
 *   are a subtype of `v.string()`, and string-literal keys need optional values; an id names a
 *   valid table.
 */

const MAX_INDEXES_PER_TABLE = 32;
const MAX_INDEX_FIELDS = 16;
const MAX_SEARCH_INDEXES_PER_TABLE = 4;
const MAX_IDENTIFIER_LENGTH = 64;
const RESERVED_INDEX_NAMES = new Set(["by_id", "by_creation_time"]);

/** A validator as `v.*().json` (and `exportArgs()`/`exportReturns()`) write it. */
export type ValidatorJson =
  | { type: "null" | "number" | "bigint" | "boolean" | "string" | "bytes" | "any" }
  | { type: "literal"; value: unknown }
  | { type: "id"; tableName: string }
  | { type: "array" | "set"; value: ValidatorJson }
  | { type: "map"; keys: ValidatorJson; values: ValidatorJson }
  | { type: "record"; keys: ValidatorJson; values: FieldJson }
  | { type: "object"; value: Record<string, FieldJson> }
  | { type: "union"; value: ValidatorJson[] };
type FieldJson = { fieldType: ValidatorJson; optional: boolean };

type IndexJson = { indexDescriptor: string; fields: string[] };
type SearchIndexJson = { indexDescriptor: string; searchField: string };
type VectorIndexJson = { indexDescriptor: string; vectorField: string; dimensions?: number };
export type TableJson = {
  tableName: string;
  indexes: IndexJson[];
  searchIndexes?: SearchIndexJson[];
  vectorIndexes?: VectorIndexJson[];
  documentType?: ValidatorJson | null;
};
/** What `defineSchema(…).export()` returns, parsed: the JSON the backend evaluates from schema.js. */
export type SchemaJson = { tables: TableJson[] };

const isIdentifier = (name: string) => name.length <= MAX_IDENTIFIER_LENGTH && /^[A-Za-z][A-Za-z0-9_]*$/.test(name);
/** A field name in a validator (`IdentifierFieldName`): `_` may start it, but not be all of it. */
const isFieldIdentifier = (name: string) =>
  name.length <= MAX_IDENTIFIER_LENGTH && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && /[A-Za-z0-9]/.test(name);

/** Every reason the backend would refuse `schema` (empty when it would accept it). */
export function schemaProblems(schema: SchemaJson): string[] {
  return schema.tables.flatMap((table) => [
    ...tableProblems(table),
    ...(table.documentType ? validatorProblems(table.documentType, `table "${table.tableName}"`) : []),
  ]);
}

/** Every reason the backend would refuse `validator`; `where` names it in the messages. */
export function validatorProblems(validator: ValidatorJson, where: string): string[] {
  switch (validator.type) {
    case "id":
      return isIdentifier(validator.tableName.replace(/^_/, ""))
        ? []
        : [`${where}: invalid table name "${validator.tableName}" in v.id.`];
    case "array":
    case "set":
      return validatorProblems(validator.value, `${where}[]`);
    case "map":
      return [
        ...validatorProblems(validator.keys, `${where} keys`),
        ...validatorProblems(validator.values, `${where} values`),
      ];
    case "union":
      return validator.value.flatMap((member, i) => validatorProblems(member, `${where} | ${i}`));
    case "record": {
      const problems = [
        ...validatorProblems(validator.keys, `${where} keys`),
        ...validatorProblems(validator.values.fieldType, `${where} values`),
      ];
      if (!isStringSubtype(validator.keys)) problems.push(`${where}: records can only have string keys.`);
      else if (hasStringLiteral(validator.keys) && !validator.values.optional) {
        problems.push(`${where}: records with string literal keys must have an optional value.`);
      }
      return problems;
    }
    case "object":
      return Object.entries(validator.value).flatMap(([field, { fieldType }]) => {
        const problems = validatorProblems(fieldType, `${where}.${field}`);
        if (field.startsWith("$")) problems.unshift(`${where}: field "${field}" starts with "$".`);
        else if (!isFieldIdentifier(field)) problems.unshift(`${where}: field "${field}" is not an identifier.`);
        return problems;
      });
    default:
      return [];
  }
}

function isStringSubtype(validator: ValidatorJson): boolean {
  if (validator.type === "union") return validator.value.every(isStringSubtype);
  if (validator.type === "literal") return typeof validator.value === "string";
  return validator.type === "string" || validator.type === "id";
}

function hasStringLiteral(validator: ValidatorJson): boolean {
  if (validator.type === "union") return validator.value.some(hasStringLiteral);
  return validator.type === "literal";
}

function tableProblems(table: TableJson): string[] {
  const { tableName: name, indexes } = table;
  const problems: string[] = [];
  if (name.startsWith("_")) problems.push(`${name} is a reserved table name.`);
  else if (!isIdentifier(name)) problems.push(`Invalid table name: "${name}".`);
  if (indexes.length > MAX_INDEXES_PER_TABLE) {
    problems.push(`Table "${name}" cannot have more than ${MAX_INDEXES_PER_TABLE} indexes (it has ${indexes.length}).`);
  }

  const byFields = new Map<string, string>();
  for (const index of indexes) {
    const label = `In table "${name}" index "${index.indexDescriptor}"`;
    if (index.fields.length === 0) problems.push(`${label} must have at least one field.`);
    if (index.fields.includes("_creationTime")) problems.push(`${label}: _creationTime is added to every index.`);
    else if (index.fields.includes("_id")) problems.push(`${label}: _id is not a valid index field.`);
    else if (index.fields.some((field) => field.split(".").some((part) => part.startsWith("_")))) {
      problems.push(`${label}: reserved fields (starting with _) are not allowed.`);
    }
    if (new Set(index.fields).size !== index.fields.length) problems.push(`${label} holds a field twice.`);
    if (index.fields.length + 1 > MAX_INDEX_FIELDS) {
      problems.push(
        `${label} has ${index.fields.length} fields; indexes may have up to ${MAX_INDEX_FIELDS} with _creationTime.`,
      );
    }
    const key = JSON.stringify(index.fields);
    const same = byFields.get(key);
    if (same !== undefined && same !== index.indexDescriptor) {
      problems.push(`In table "${name}" index "${index.indexDescriptor}" and index "${same}" have the same fields.`);
    }
    byFields.set(key, index.indexDescriptor);
  }

  const searchIndexes = table.searchIndexes ?? [];
  if (searchIndexes.length > MAX_SEARCH_INDEXES_PER_TABLE) {
    problems.push(`Table "${name}" cannot have more than ${MAX_SEARCH_INDEXES_PER_TABLE} search indexes.`);
  }
  const searchFields = new Map<string, string>();
  for (const index of searchIndexes) {
    const same = searchFields.get(index.searchField);
    if (same !== undefined) {
      problems.push(
        `In table "${name}" search indexes "${index.indexDescriptor}" and "${same}" have the same searchField.`,
      );
    }
    searchFields.set(index.searchField, index.indexDescriptor);
  }

  const seen = new Set<string>();
  const names = [...indexes, ...searchIndexes, ...(table.vectorIndexes ?? [])].map((index) => index.indexDescriptor);
  for (const index of names) {
    if (index.startsWith("_") || RESERVED_INDEX_NAMES.has(index)) {
      problems.push(`In table "${name}" cannot name an index "${index}": the name is reserved.`);
    } else if (!isIdentifier(index)) {
      problems.push(`Invalid index name: "${index}".`);
    }
    if (seen.has(index)) problems.push(`Table "${name}" has two or more definitions of index "${index}".`);
    seen.add(index);
  }
  return problems;
}
