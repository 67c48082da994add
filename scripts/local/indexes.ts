/**
 * Real index ranges for the local engine. convex-test answers a query by collecting every
 * document of its table, filtering and sorting them, so a `.first()` cost the whole table (or
 * range). Here each table keeps its committed ids, and each index (the schema's and
 * by_creation_time) keeps its committed documents sorted (sortedIndex.ts), built by one sort at
 * load and kept current on each top-level commit. Index-range queries are then walked in order
 * (orderedWalk.ts); full scans and search keep convex-test's path over the table's ids.
 */
import {
  committedDocuments,
  installQueryExecution,
  onTopLevelCommit,
  pendingWrites,
  schemaIndexes,
  tableOf,
  type CommittedWrite,
  type Document,
  type Internals,
} from "./convexTestInternals";
import { orderedExecution, type WalkStats } from "./orderedWalk";
import { SortedIndex } from "./sortedIndex";

type Table = { ids: Set<string>; indexes: Map<string, SortedIndex>; each: Array<[name: string, index: SortedIndex]> };

/** Every table's committed ids and sorted indexes. */
export class IndexSet {
  private readonly tables = new Map<string, Table>();

  constructor(private readonly declared: (table: string) => Array<{ name: string; fields: string[] }>) {}

  /**
   * Builds every index over `documents`: each table's documents are put in by_creation_time
   * order once (nearly free: they come in about that order), then each index is one stable
   * sort by its own fields. O(n log n) for n documents.
   */
  load(documents: Readonly<Record<string, Document>>) {
    const byTable = new Map<string, { ids: string[]; documents: Document[] }>();
    for (const id of Object.keys(documents)) {
      const table = tableOf(id);
      let rows = byTable.get(table);
      if (rows === undefined) byTable.set(table, (rows = { ids: [], documents: [] }));
      rows.ids.push(id);
      rows.documents.push(documents[id]!);
    }
    for (const [name, rows] of byTable) {
      const [creation, ...declared] = this.definitions(name);
      const byCreation = SortedIndex.build(creation!.fields, rows.documents);
      const ordered = [...byCreation.walk({ chunk: 0, offset: 0 }, byCreation.end(), "asc")];
      const indexes = new Map<string, SortedIndex>([[creation!.name, byCreation]]);
      for (const { name: index, fields } of declared) indexes.set(index, SortedIndex.build(fields, ordered, 2));
      this.tables.set(name, { ids: new Set(rows.ids), indexes, each: [...indexes] });
    }
  }

  /** Applies one top-level commit. */
  apply(writes: CommittedWrite[]) {
    for (const { id, previous, current } of writes) {
      const table = this.table(tableOf(id));
      if (current === undefined) table.ids.delete(id);
      else table.ids.add(id);
      for (let i = 0; i < table.each.length; i++) {
        const [name, index] = table.each[i]!;
        // A write that leaves this index's key alone (most patches) swaps the entry in place.
        const sameKey = previous !== undefined && current !== undefined && index.compare(previous, current) === 0;
        const found = sameKey ? index.replace(previous, current!) : previous === undefined || index.remove(previous);
        if (!found) {
          throw new Error(`Local index ${tableOf(id)}.${name} lost document ${id}; restart the local server.`);
        }
        if (current !== undefined && !sameKey) index.insert(current);
      }
    }
  }

  index(table: string, name: string): SortedIndex | undefined {
    return this.table(table).indexes.get(name);
  }

  /** The committed ids of `table`, in the order convex-test would visit them. */
  ids(table: string): ReadonlySet<string> {
    return this.table(table).ids;
  }

  private table(name: string): Table {
    let table = this.tables.get(name);
    if (table === undefined) {
      const indexes = new Map(this.definitions(name).map(({ name, fields }) => [name, new SortedIndex(fields)]));
      this.tables.set(name, (table = { ids: new Set(), indexes, each: [...indexes] }));
    }
    return table;
  }

  private definitions(table: string) {
    return [
      { name: "by_creation_time", fields: ["_creationTime", "_id"] },
      ...this.declared(table).map(({ name, fields }) => ({ name, fields: [...fields, "_creationTime", "_id"] })),
    ];
  }
}

/**
 * Builds the indexes over the committed documents, keeps them current on commit, and answers
 * index-range queries from them. Returns the walk counters (tests, start-up probe).
 */
export function installIndexes(internals: Internals): WalkStats {
  const indexes = new IndexSet((table) => schemaIndexes(internals, table));
  indexes.load(committedDocuments(internals));
  onTopLevelCommit(internals, (writes) => indexes.apply(writes));
  const { execution, stats } = orderedExecution(internals, indexes);
  installQueryExecution(internals, {
    ...execution,
    scanTable(table, visit) {
      // convex-test's own order: committed documents (in their pending version), then new ones.
      // Search results are not sorted afterwards, so this order is part of the answer.
      const pending = pendingWrites(internals, (id) => tableOf(id) === table);
      const documents = committedDocuments(internals);
      for (const id of indexes.ids(table)) {
        const document = pending.has(id) ? pending.get(id)! : documents[id]!;
        if (document !== null) visit(document);
      }
      for (const [id, document] of pending) if (document !== null && !indexes.ids(table).has(id)) visit(document);
    },
  });
  return stats;
}
