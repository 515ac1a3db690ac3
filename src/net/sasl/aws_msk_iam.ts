/**
 * Amazon MSK IAM authentication without the AWS SDK: the `AWS_MSK_IAM` SASL
 * mechanism (a JSON payload holding the SigV4 query parameters of a
 * presigned `kafka-cluster:Connect` request to the broker's host), and MSK's
 * OAUTHBEARER token (a base64url presigned URL for
 * `kafka.<region>.amazonaws.com`).
 *
 * Checked against AWS's published SigV4 examples and a fake broker that
 * verifies the signature; NOT run against a real MSK cluster (see README).
 *
 * @module
 */

import { AuthenticationError } from "../../errors.ts";
import { amzDate, type AwsCredentials, EMPTY_SHA256, presign, uriEncode } from "./sigv4.ts";
import type { OAuthBearerToken, OAuthBearerTokenProvider } from "./oauthbearer.ts";

export type { AwsCredentials } from "./sigv4.ts";

/** An async function returning AWS credentials; called at every (re-)authentication. */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

/** Where AWS credentials and the region come from. */
export interface AwsIamOptions {
  /** The region; default `AWS_REGION`, then `AWS_DEFAULT_REGION`. */
  region?: string;
  /**
   * Credentials or an async provider of them; default the environment
   * (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
   */
  credentials?: AwsCredentials | AwsCredentialsProvider;
}

/** The service name MSK signs for. */
export const MSK_SERVICE = "kafka-cluster";
/** How long a signature is valid, in seconds (what MSK's own libraries use). */
export const MSK_EXPIRES_SECONDS = 900;
const USER_AGENT = "kafka-deno";

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // No --allow-env: as if unset.
  }
}

/** The region from the options or the environment. */
export function awsRegion(opts: AwsIamOptions): string {
  const region = opts.region ?? env("AWS_REGION") ?? env("AWS_DEFAULT_REGION");
  if (!region) {
    throw new AuthenticationError("No AWS region: set the region option or AWS_REGION (needs --allow-env)");
  }
  if (!/^[a-z0-9-]+$/.test(region)) throw new TypeError(`Invalid AWS region ${JSON.stringify(region)}`);
  return region;
}

/** The credentials from the options, a provider, or the environment. */
export async function awsCredentials(opts: AwsIamOptions): Promise<AwsCredentials> {
  let c: AwsCredentials | undefined;
  if (typeof opts.credentials === "function") c = await opts.credentials();
  else if (opts.credentials !== undefined) c = opts.credentials;
  else {
    const accessKeyId = env("AWS_ACCESS_KEY_ID");
    const secretAccessKey = env("AWS_SECRET_ACCESS_KEY");
    if (!accessKeyId || !secretAccessKey) {
      throw new AuthenticationError(
        "No AWS credentials: pass credentials or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (needs --allow-env)",
      );
    }
    c = { accessKeyId, secretAccessKey, sessionToken: env("AWS_SESSION_TOKEN") };
  }
  if (
    typeof c !== "object" || c === null || typeof c.accessKeyId !== "string" || c.accessKeyId === "" ||
    typeof c.secretAccessKey !== "string" || c.secretAccessKey === "" ||
    (c.sessionToken !== undefined && typeof c.sessionToken !== "string")
  ) {
    throw new TypeError(
      "Invalid AWS credentials: expected { accessKeyId, secretAccessKey, sessionToken? } strings",
    );
  }
  return c;
}

/**
 * The AWS_MSK_IAM authentication payload for a broker host (the format of
 * aws-msk-iam-auth, version "2020_10_22"): the presigned request's
 * parameters as lower-case JSON keys.
 *
 * @param host The broker's host name, as the client connects to it.
 * @param region The region.
 * @param credentials The credentials.
 * @param now The signing time.
 */
export async function mskIamPayload(
  host: string,
  region: string,
  credentials: AwsCredentials,
  now: Date = new Date(),
): Promise<Record<string, string>> {
  const action = "kafka-cluster:Connect";
  const query = await presign(
    { host, path: "/", query: [["Action", action]], payloadHash: EMPTY_SHA256 },
    { region, service: MSK_SERVICE, amzDate: amzDate(now) },
    credentials,
    MSK_EXPIRES_SECONDS,
  );
  const out: Record<string, string> = { version: "2020_10_22", host, "user-agent": USER_AGENT, action };
  for (const [k, v] of query) if (k !== "Action") out[k.toLowerCase()] = v;
  return out;
}

/** The AWS_MSK_IAM conversation: the payload, then the broker's JSON answer. */
export function mskIam(
  payload: Record<string, string>,
): { start(): Promise<Uint8Array>; next(challenge: Uint8Array): Promise<Uint8Array | null> } {
  return {
    start: () => Promise.resolve(new TextEncoder().encode(JSON.stringify(payload))),
    next(challenge) {
      // MSK answers {"version":"2020_10_22","request-id":"..."}; anything that is not JSON is refused.
      try {
        const res = JSON.parse(new TextDecoder().decode(challenge));
        if (typeof res !== "object" || res === null) throw new Error();
      } catch {
        return Promise.reject(new Error("the broker's answer is not the JSON object MSK sends"));
      }
      return Promise.resolve(null);
    },
  };
}

/**
 * MSK's OAUTHBEARER token: a presigned `kafka-cluster:Connect` URL for
 * `https://kafka.<region>.amazonaws.com/`, base64url without padding (the
 * format of aws-msk-iam-sasl-signer), valid for 15 minutes.
 *
 * @param region The region.
 * @param credentials The credentials.
 * @param now The signing time.
 */
export async function mskOAuthToken(
  region: string,
  credentials: AwsCredentials,
  now: Date = new Date(),
): Promise<OAuthBearerToken> {
  const host = `kafka.${region}.amazonaws.com`;
  const query = await presign(
    { host, path: "/", query: [["Action", "kafka-cluster:Connect"]], payloadHash: EMPTY_SHA256 },
    { region, service: MSK_SERVICE, amzDate: amzDate(now) },
    credentials,
    MSK_EXPIRES_SECONDS,
  );
  query.push(["User-Agent", USER_AGENT]);
  const url = `https://${host}/?` + query.map(([k, v]) => `${k}=${uriEncode(v)}`).join("&");
  const value = btoa(url).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  return { value, lifetimeMs: now.getTime() + MSK_EXPIRES_SECONDS * 1000 };
}

/**
 * An OAUTHBEARER token provider for Amazon MSK (IAM access control through
 * the OAUTHBEARER mechanism).
 *
 * @example
 * ```ts ignore
 * import { connect, mskIamTokenProvider } from "../../../mod.ts";
 * const client = await connect({
 *   brokers: ["b-1.mycluster.abc123.c2.kafka.us-east-1.amazonaws.com:9098"],
 *   tls: true,
 *   sasl: { mechanism: "OAUTHBEARER", token: mskIamTokenProvider({ region: "us-east-1" }) },
 * });
 * ```
 */
export function mskIamTokenProvider(opts: AwsIamOptions = {}): OAuthBearerTokenProvider {
  return async () => mskOAuthToken(awsRegion(opts), await awsCredentials(opts));
}
