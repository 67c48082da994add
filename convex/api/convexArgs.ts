/**
 * Convex argument validators derived from a route's zod request schema, so each field is declared
 * once (in convex/api/requests/) and the internal function the route calls takes exactly what
 * validation produced. Derived from the schema's output, since routes pass the parsed body (ids
 * without their `table/` prefix, defaults filled in): leaves go through convex-helpers'
 * `zodOutputToConvex`; a transform's output is unknown to it, so a schema that transforms names
 * the validator of what it produces with `convexOutput`.
 */
import { zodOutputToConvex } from "convex-helpers/server/zod4";
import { v, type GenericValidator, type Validator } from "convex/values";
import { z } from "zod";

const declaredOutputs = new WeakMap<z.ZodType, GenericValidator>();

/** Marks a transforming schema with the Convex validator of its output; returns the schema. */
export function convexOutput<T extends z.ZodType>(schema: T, validator: Validator<z.output<T>, "required", string>): T {
  declaredOutputs.set(schema, validator);
  return schema;
}

function outputValidator(schema: z.ZodType, path: string): GenericValidator {
  const declared = declaredOutputs.get(schema);
  if (declared !== undefined) return declared;
  if (schema instanceof z.ZodOptional) return v.optional(requiredValidator(schema.unwrap() as z.ZodType, path));
  if (schema instanceof z.ZodNullable) return v.union(requiredValidator(schema.unwrap() as z.ZodType, path), v.null());
  if (schema instanceof z.ZodDefault) return requiredValidator(schema.unwrap() as z.ZodType, path);
  if (schema instanceof z.ZodArray) return v.array(requiredValidator(schema.element as z.ZodType, `${path}[]`));
  if (schema instanceof z.ZodObject) return v.object(fieldValidators(schema.shape, `${path}.`));
  if (schema instanceof z.ZodPipe) {
    if (schema.out instanceof z.ZodTransform) {
      throw new Error(`${path}: a transforming schema needs convexOutput() to derive its Convex validator.`);
    }
    return outputValidator(schema.out as z.ZodType, path);
  }
  return zodOutputToConvex(schema);
}

function requiredValidator(schema: z.ZodType, path: string): GenericValidator {
  const validator = outputValidator(schema, path);
  if (validator.isOptional === "optional") throw new Error(`${path}: an optional value cannot be nested here.`);
  return validator;
}

function fieldValidators(shape: z.ZodRawShape, path: string): Record<string, GenericValidator> {
  return Object.fromEntries(
    Object.entries(shape).map(([field, schema]) => [field, outputValidator(schema as z.ZodType, `${path}${field}`)]),
  );
}

type OutputValidator<S extends z.core.$ZodType> = Validator<
  z.output<S>,
  undefined extends z.output<S> ? "optional" : "required",
  string
>;
export type RequestArgs<Shape extends z.ZodRawShape> = { [K in keyof Shape]: OutputValidator<Shape[K]> };

/**
 * The Convex `args` of the internal function a route calls with its parsed body: every field of
 * `request` except `workspaceId`, which the workspace builders (convex/functions.ts) take with
 * the caller.
 */
export function requestArgs<Shape extends z.ZodRawShape>(
  request: z.ZodObject<Shape>,
): RequestArgs<Omit<Shape, "workspaceId">> {
  const { workspaceId: _consumed, ...fields } = request.shape as z.ZodRawShape;
  return fieldValidators(fields, "") as unknown as RequestArgs<Omit<Shape, "workspaceId">>;
}

/** Every field of `request` as Convex `args`, for routes whose function is not workspace-scoped. */
export function bodyArgs<Shape extends z.ZodRawShape>(request: z.ZodObject<Shape>): RequestArgs<Shape> {
  return fieldValidators(request.shape, "") as unknown as RequestArgs<Shape>;
}
