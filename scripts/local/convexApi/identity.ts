/**
 * Verifies the JWTs Convex clients send (HTTP `Authorization: Bearer`, sync `Authenticate`) the
 * way a deployment does with `convex/auth.config.ts`: the provider whose issuer (`domain`) and
 * audience (`applicationID`) match, its key set from the issuer's OpenID configuration, signature
 * and expiry checked with jose, then the UserIdentity Convex derives from the claims.
 */
import {
  createLocalJWKSet,
  decodeJwt,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
} from "jose";
import type { UserIdentity } from "convex/server";
import type { Value } from "convex/values";

/** What `ctx.auth.getUserIdentity()` returns, plus when the token stops being valid. */
export type VerifiedIdentity = {
  identity: UserIdentity & Record<string, Value>;
  /** ms since the epoch; null when the token has no `exp`. */
  expiresAt: number | null;
  /** Same identity, same key: query results are shared between such sessions. */
  cacheKey: string;
};

export class AuthFailure extends Error {
  override name = "AuthFailure";
  constructor(
    readonly code: "INVALID_TOKEN" | "EXPIRED_TOKEN",
    message: string,
  ) {
    super(message);
  }
}

type Provider =
  | { kind: "oidc"; issuer: string; audience: string }
  | { kind: "customJwt"; issuer: string; audience?: string; jwksUrl: string; algorithm: string };

/** Fetches a URL; the local server resolves its own site in process, others over the network. */
export type JsonFetcher = (url: string) => Promise<unknown>;

/** The claims Convex maps onto UserIdentity attributes (see `UserIdentity` in convex/server). */
const ATTRIBUTE_OF_CLAIM: Record<string, string> = {
  name: "name",
  given_name: "givenName",
  family_name: "familyName",
  nickname: "nickname",
  preferred_username: "preferredUsername",
  profile: "profileUrl",
  picture: "pictureUrl",
  email: "email",
  email_verified: "emailVerified",
  gender: "gender",
  birthdate: "birthday",
  zoneinfo: "timezone",
  locale: "language",
  phone_number: "phoneNumber",
  phone_number_verified: "phoneNumberVerified",
  address: "address",
  updated_at: "updatedAt",
};
/** Registered claims that describe the token rather than the user. */
const TOKEN_CLAIMS = new Set(["iss", "sub", "aud", "exp", "iat", "nbf", "jti"]);

export function createIdentityVerifier(loadAuthConfig: () => Promise<unknown>, fetchJson: JsonFetcher) {
  let providers: Promise<Provider[]> | undefined;
  const keySets = new Map<string, ReturnType<typeof createLocalJWKSet>>();

  async function keySetOf(provider: Provider, refresh: boolean) {
    const cached = keySets.get(provider.issuer);
    if (cached !== undefined && !refresh) return cached;
    const jwksUrl =
      provider.kind === "customJwt"
        ? provider.jwksUrl
        : stringField(
            await fetchJson(`${normalizeIssuer(provider.issuer)}/.well-known/openid-configuration`),
            "jwks_uri",
          );
    const keySet = createLocalJWKSet((await fetchJson(jwksUrl)) as JSONWebKeySet);
    keySets.set(provider.issuer, keySet);
    return keySet;
  }

  return async function verify(token: string): Promise<VerifiedIdentity> {
    providers ??= loadAuthConfig().then(parseProviders);
    let claims: JWTPayload;
    try {
      claims = decodeJwt(token);
    } catch {
      throw new AuthFailure("INVALID_TOKEN", "Could not parse the JWT: it is not a JWT.");
    }
    const audiences = Array.isArray(claims.aud) ? claims.aud : claims.aud === undefined ? [] : [claims.aud];
    const provider = (await providers).find(
      (candidate) =>
        normalizeIssuer(candidate.issuer) === normalizeIssuer(claims.iss ?? "") &&
        (candidate.audience === undefined || audiences.includes(candidate.audience)),
    );
    if (provider === undefined) {
      throw new AuthFailure(
        "INVALID_TOKEN",
        `No auth provider found matching the given token (issuer ${JSON.stringify(claims.iss ?? null)}, ` +
          `audience ${JSON.stringify(claims.aud ?? null)}); check convex/auth.config.ts.`,
      );
    }
    const options = {
      issuer: [provider.issuer, normalizeIssuer(provider.issuer)],
      audience: provider.audience,
      algorithms: provider.kind === "customJwt" ? [provider.algorithm] : undefined,
    };
    let payload: JWTPayload;
    try {
      try {
        payload = (await jwtVerify(token, await keySetOf(provider, false), options)).payload;
      } catch (error) {
        // A key we have not seen: the issuer may have rotated its keys since we fetched them.
        if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
        payload = (await jwtVerify(token, await keySetOf(provider, true), options)).payload;
      }
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new AuthFailure("EXPIRED_TOKEN", "Token expired.");
      if (error instanceof AuthFailure) throw error;
      throw new AuthFailure("INVALID_TOKEN", `Could not verify the JWT: ${(error as Error).message}`);
    }
    if (typeof payload.sub !== "string" || payload.sub === "") {
      throw new AuthFailure("INVALID_TOKEN", "The JWT has no `sub` claim.");
    }
    const identity = identityOf(payload);
    return {
      identity,
      expiresAt: typeof payload.exp === "number" ? payload.exp * 1000 : null,
      cacheKey: JSON.stringify(identity),
    };
  };
}

/** UserIdentity from verified claims: the standard attributes renamed, custom claims as they are. */
export function identityOf(claims: JWTPayload): UserIdentity & Record<string, Value> {
  const identity: Record<string, Value> = {
    tokenIdentifier: `${claims.iss}|${claims.sub}`,
    subject: claims.sub!,
    issuer: claims.iss!,
  };
  for (const [claim, value] of Object.entries(claims)) {
    if (TOKEN_CLAIMS.has(claim) || value === undefined) continue;
    const attribute = ATTRIBUTE_OF_CLAIM[claim] ?? claim;
    identity[attribute] =
      attribute === "address" && typeof value !== "string" ? JSON.stringify(value) : (value as Value);
  }
  return identity as UserIdentity & Record<string, Value>;
}

function parseProviders(config: unknown): Provider[] {
  const list = (config as { providers?: unknown } | undefined)?.providers;
  if (!Array.isArray(list)) return [];
  const providers: Provider[] = [];
  for (const entry of list as Array<Record<string, unknown>>) {
    if (entry?.type === "customJwt" && typeof entry.issuer === "string" && typeof entry.jwks === "string") {
      providers.push({
        kind: "customJwt",
        issuer: entry.issuer,
        audience: typeof entry.applicationID === "string" ? entry.applicationID : undefined,
        jwksUrl: entry.jwks,
        algorithm: typeof entry.algorithm === "string" ? entry.algorithm : "RS256",
      });
    } else if (typeof entry?.domain === "string" && typeof entry.applicationID === "string") {
      providers.push({ kind: "oidc", issuer: entry.domain, audience: entry.applicationID });
    }
  }
  return providers;
}

function normalizeIssuer(issuer: string): string {
  return issuer.replace(/\/+$/, "");
}

function stringField(body: unknown, field: string): string {
  const value = (body as Record<string, unknown> | null)?.[field];
  if (typeof value !== "string")
    throw new AuthFailure("INVALID_TOKEN", `The issuer's OpenID configuration has no ${field}.`);
  return value;
}
