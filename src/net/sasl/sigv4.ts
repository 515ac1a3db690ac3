/**
 * AWS Signature Version 4 on Web Crypto: the canonical request, the string to
 * sign, the derived signing key and the signature, for header-signed requests
 * and for presigned (query-signed) ones. No AWS SDK.
 *
 * Tested against AWS's published examples (test/src/sasl_aws_test.ts names
 * them). Used by the AWS_MSK_IAM mechanism and MSK's OAUTHBEARER token.
 *
 * @module
 */

const encoder = new TextEncoder();

/** The SHA-256 of the empty string, as lowercase hex: the payload hash of a request without a body. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** AWS credentials. */
export interface AwsCredentials {
  /** The access key id (`AKIA...` or `ASIA...`). */
  accessKeyId: string;
  /** The secret access key. */
  secretAccessKey: string;
  /** The session token of temporary credentials. */
  sessionToken?: string;
}

/** A request to sign. */
export interface SigV4Request {
  /** "GET", "POST"... */
  method: string;
  /** The host (the `host` header). */
  host: string;
  /** The path, already URI-encoded (for example "/"). */
  path: string;
  /** Query parameters, not encoded. */
  query: [string, string][];
  /** Headers to sign besides `host`, names in any case. */
  headers: [string, string][];
  /** The payload's SHA-256 as hex, or "UNSIGNED-PAYLOAD". */
  payloadHash: string;
}

/** Where and when a signature applies. */
export interface SigV4Scope {
  /** The region, e.g. "us-east-1". */
  region: string;
  /** The service, e.g. "kafka-cluster". */
  service: string;
  /** The signing time, "YYYYMMDDTHHMMSSZ". */
  amzDate: string;
}

/** RFC 3986 encoding as SigV4 requires: everything but A-Z a-z 0-9 - _ . ~ is %XX (upper case). */
export function uriEncode(s: string): string {
  let out = "";
  for (const b of encoder.encode(s)) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** The SigV4 time stamp of a date: "YYYYMMDDTHHMMSSZ". */
export function amzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** Lowercase hex. */
export function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** SHA-256 of a text, as hex. */
export async function sha256Hex(text: string): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text))));
}

async function hmac(key: Uint8Array<ArrayBuffer>, data: string): Promise<Uint8Array<ArrayBuffer>> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, encoder.encode(data)));
}

/** The canonical query string: encoded names and values, sorted by encoded name, then value. */
export function canonicalQuery(query: [string, string][]): string {
  return query.map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)
    .map(([k, v]) => `${k}=${v}`).join("&");
}

/** The signed header names of a request: `host` and its headers, lower case, sorted, ";"-joined. */
export function signedHeaderNames(req: Pick<SigV4Request, "headers">): string {
  return [...new Set(["host", ...req.headers.map(([k]) => k.toLowerCase())])].sort().join(";");
}

/** The canonical request (SigV4 task 1). */
export function canonicalRequest(req: SigV4Request): string {
  const headers = new Map<string, string>([["host", req.host]]);
  for (const [k, v] of req.headers) headers.set(k.toLowerCase(), v.trim().replace(/\s+/g, " "));
  const names = [...headers.keys()].sort();
  return [
    req.method,
    req.path,
    canonicalQuery(req.query),
    names.map((n) => `${n}:${headers.get(n)}\n`).join(""),
    names.join(";"),
    req.payloadHash,
  ].join("\n");
}

/**
 * Signs a request: returns the hex signature (SigV4 tasks 2-4).
 *
 * @param req The request (for a presigned request its query holds every X-Amz-* parameter but the signature).
 * @param scope Region, service and time.
 * @param secretAccessKey The secret key.
 */
export async function sigV4Signature(
  req: SigV4Request,
  scope: SigV4Scope,
  secretAccessKey: string,
): Promise<string> {
  const day = scope.amzDate.slice(0, 8);
  const credentialScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    scope.amzDate,
    credentialScope,
    await sha256Hex(canonicalRequest(req)),
  ].join("\n");
  let key = await hmac(encoder.encode("AWS4" + secretAccessKey), day);
  key = await hmac(key, scope.region);
  key = await hmac(key, scope.service);
  key = await hmac(key, "aws4_request");
  return hex(await hmac(key, stringToSign));
}

/**
 * Presigns a GET request: the X-Amz-* query parameters, the signature last
 * (the form of an AWS presigned URL).
 *
 * @param req The request without X-Amz-* parameters.
 * @param scope Region, service and time.
 * @param credentials The credentials.
 * @param expiresSeconds X-Amz-Expires.
 */
export async function presign(
  req: Omit<SigV4Request, "method" | "headers"> & { method?: string; headers?: [string, string][] },
  scope: SigV4Scope,
  credentials: AwsCredentials,
  expiresSeconds: number,
): Promise<[string, string][]> {
  const day = scope.amzDate.slice(0, 8);
  const full: SigV4Request = { method: "GET", headers: [], ...req, query: [...req.query] };
  full.query.push(
    ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
    ["X-Amz-Credential", `${credentials.accessKeyId}/${day}/${scope.region}/${scope.service}/aws4_request`],
    ["X-Amz-Date", scope.amzDate],
    ["X-Amz-Expires", String(expiresSeconds)],
  );
  if (credentials.sessionToken) full.query.push(["X-Amz-Security-Token", credentials.sessionToken]);
  full.query.push(["X-Amz-SignedHeaders", signedHeaderNames(full)]);
  const signature = await sigV4Signature(full, scope, credentials.secretAccessKey);
  return [...full.query, ["X-Amz-Signature", signature]];
}
