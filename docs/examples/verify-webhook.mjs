// Verifying an IAS control-plane webhook in Node (docs/operations.md, "Outbound webhooks").
// Give it the raw request body exactly as received (before any JSON parsing) and the endpoint's
// secret (shown once when the endpoint was created or its secret rotated).
import { createHmac, timingSafeEqual } from "node:crypto";

/** True when `header` (x-ias-signature) signs `rawBody` with `secret` within `toleranceSeconds` of now. */
export function verifyIasSignature(secret, header, rawBody, toleranceSeconds = 300, nowSeconds = Date.now() / 1000) {
  const fields = Object.fromEntries(
    String(header ?? "")
      .split(",")
      .map((part) => part.split("=", 2)),
  );
  const timestamp = Number(fields.t);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest();
  const given = Buffer.from(fields.v1 ?? "", "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}
