/**
 * TLS for broker connections: option checking, opening the socket
 * (`Deno.startTls` on a TCP connection, or `Deno.connectTls` when a client
 * certificate must be presented), and error messages that say which check
 * failed.
 *
 * Certificate chain and hostname verification are on by default. Deno 2.9
 * offers a per-connection switch for the hostname check only
 * (`unsafelyDisableHostnameVerification`); chain verification can only be
 * turned off for the whole process with Deno's own
 * `--unsafely-ignore-certificate-errors[=host,...]` flag, so this module has
 * no option for it.
 *
 * @module
 */

import { onAbort } from "./abort.ts";
import { AuthenticationError, ConnectionError } from "./errors.ts";
import { checkOptions } from "./options.ts";

/** TLS settings for broker connections. */
export interface TlsOptions {
  /**
   * CA certificates in PEM to trust in addition to the default roots (one PEM
   * string may hold several). Managed clusters with public certificates need none.
   */
  ca?: string | string[];
  /** The client certificate chain in PEM, for mutual TLS. Needs `key`. */
  cert?: string;
  /** The client certificate's private key in PEM (PKCS#8, PKCS#1 or SEC1), for mutual TLS. Needs `cert`. */
  key?: string;
  /**
   * The name to verify the broker's certificate against (and to send as SNI)
   * instead of the host being connected to. Deno sends a client certificate
   * only when the verified name is the host, so it cannot be combined with `cert`.
   */
  serverName?: string;
  /**
   * DANGER: accept a broker certificate that is not issued for the host name
   * (the chain is still verified). Only for brokers you control whose
   * certificates name the wrong host; prefer `serverName`. Default false.
   */
  unsafelyDisableHostnameVerification?: boolean;
}

const TLS_KEYS_RECORD: Record<keyof TlsOptions, true> = {
  ca: true,
  cert: true,
  key: true,
  serverName: true,
  unsafelyDisableHostnameVerification: true,
};
/** Every key of {@linkcode TlsOptions}, for strict option checks. */
export const TLS_OPTION_KEYS: readonly string[] = Object.keys(TLS_KEYS_RECORD);

/** `tls: true` (default roots, full verification) or TLS settings. */
export type TlsSetting = boolean | TlsOptions;

/** TLS settings after checking, as the connection uses them. */
export interface ResolvedTls {
  /** CA certificates in PEM. */
  caCerts: string[];
  /** Client certificate and key, if any. */
  clientCert: { cert: string; key: string } | null;
  /** The name to verify, if not the host. */
  serverName: string | null;
  /** Whether the hostname check is off. */
  unsafelyDisableHostnameVerification: boolean;
}

/**
 * Checks TLS options; null when TLS is off.
 *
 * @example
 * ```ts
 * import { resolveTls } from "./tls.ts";
 * console.assert(resolveTls(undefined) === null);
 * console.assert(resolveTls(true)?.caCerts.length === 0);
 * ```
 *
 * @param tls The `tls` option.
 * @throws {TypeError} for a certificate without a key (or the reverse), non-PEM input, or `serverName` with a client certificate.
 */
export function resolveTls(tls: TlsSetting | undefined): ResolvedTls | null {
  if (tls === undefined || tls === false) return null;
  if (tls === true) {
    return { caCerts: [], clientCert: null, serverName: null, unsafelyDisableHostnameVerification: false };
  }
  if (typeof tls !== "object" || tls === null) {
    throw new TypeError(`Invalid tls option: expected true or an options object, got ${typeof tls}`);
  }
  checkOptions(tls, TLS_OPTION_KEYS, "tls option");
  const ca = tls.ca === undefined ? [] : Array.isArray(tls.ca) ? tls.ca : [tls.ca];
  for (const [i, pem] of ca.entries()) {
    if (typeof pem !== "string" || !pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new TypeError(`Invalid tls.ca[${i}]: expected a PEM certificate ("-----BEGIN CERTIFICATE-----")`);
    }
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError("Mutual TLS needs both tls.cert and tls.key");
  }
  let clientCert: ResolvedTls["clientCert"] = null;
  if (tls.cert !== undefined && tls.key !== undefined) {
    if (typeof tls.cert !== "string" || !tls.cert.includes("-----BEGIN CERTIFICATE-----")) {
      throw new TypeError('Invalid tls.cert: expected a PEM certificate ("-----BEGIN CERTIFICATE-----")');
    }
    // The key's text is never put in a message.
    if (typeof tls.key !== "string" || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(tls.key)) {
      throw new TypeError('Invalid tls.key: expected a PEM private key ("-----BEGIN PRIVATE KEY-----")');
    }
    if (tls.key.includes("ENCRYPTED")) {
      throw new TypeError("Invalid tls.key: encrypted private keys are not supported; decrypt it first");
    }
    clientCert = { cert: tls.cert, key: tls.key };
  }
  const serverName = tls.serverName ?? null;
  if (serverName !== null && (typeof serverName !== "string" || serverName === "")) {
    throw new TypeError("Invalid tls.serverName: expected a non-empty host name");
  }
  if (serverName !== null && clientCert) {
    throw new TypeError(
      "tls.serverName cannot be combined with a client certificate: Deno.startTls sends no client certificate",
    );
  }
  return {
    caCerts: ca,
    clientCert,
    serverName,
    unsafelyDisableHostnameVerification: tls.unsafelyDisableHostnameVerification === true,
  };
}

/**
 * Explains a TLS failure: which check failed and what to change. Knows the
 * messages of Deno's TLS stack (rustls).
 *
 * @param err The error from the handshake or the first read.
 * @param address The broker, host:port.
 * @param sentClientCert Whether a client certificate was offered.
 */
export function describeTlsError(err: unknown, address: string, sentClientCert = false): string {
  const raw = err instanceof Error ? err.message : String(err);
  const hint = (() => {
    if (/UnknownIssuer/i.test(raw)) {
      return "the broker's certificate is not signed by a trusted CA (set tls.ca to the CA that issued it)";
    }
    if (/not valid for name|NotValidForName/i.test(raw)) {
      return "hostname verification failed: the broker's certificate does not name this host " +
        "(connect by a name it lists, or set tls.serverName)";
    }
    if (/Expired/i.test(raw)) return "the broker's certificate has expired";
    if (/NotValidYet/i.test(raw)) return "the broker's certificate is not valid yet (check the clocks)";
    if (/BadSignature|InvalidSignature/i.test(raw)) {
      return "the broker's certificate has an invalid signature";
    }
    if (/Revoked/i.test(raw)) return "the broker's certificate is revoked";
    if (/alert: ?CertificateRequired|alert: ?HandshakeFailure.*cert/i.test(raw)) {
      return "the broker requires a client certificate (set tls.cert and tls.key)";
    }
    if (/alert: ?(UnknownCA|BadCertificate|CertificateUnknown|DecryptError|AccessDenied)/i.test(raw)) {
      // Java brokers answer a missing client certificate with bad_certificate too.
      return sentClientCert
        ? "the broker rejected the client certificate (is it signed by a CA the broker trusts?)"
        : "the broker requires a client certificate (set tls.cert and tls.key)";
    }
    if (/alert: ?ProtocolVersion/i.test(raw)) return "no common TLS version (Deno speaks TLS 1.2 and 1.3)";
    if (/alert: ?HandshakeFailure/i.test(raw)) return "no common cipher suite or a rejected handshake";
    if (/eof|end of file|close_notify|reset|closed/i.test(raw)) {
      return "the broker closed the connection during the TLS handshake (is this a plaintext or SASL_PLAINTEXT listener?)";
    }
    return "the TLS handshake failed";
  })();
  return `TLS with ${address} failed: ${hint} [${raw}]`;
}

/**
 * Whether a TLS failure is about certificates (an authentication failure)
 * rather than the network.
 *
 * @param err The error from the handshake or the first read.
 */
export function isCertificateFailure(err: unknown): boolean {
  const raw = err instanceof Error ? err.message : String(err);
  return /certificate|UnknownIssuer|NotValidForName|alert: ?(UnknownCA|BadCertificate|CertificateUnknown|AccessDenied|DecryptError)/i
    .test(raw);
}

/**
 * Turns a TLS failure into the error thrown to the caller: an
 * {@linkcode AuthenticationError} for certificate checks, a
 * {@linkcode ConnectionError} otherwise.
 *
 * @param err The error.
 * @param address The broker, host:port.
 * @param sentClientCert Whether a client certificate was offered.
 */
export function tlsError(
  err: unknown,
  address: string,
  sentClientCert = false,
): AuthenticationError | ConnectionError {
  const message = describeTlsError(err, address, sentClientCert);
  return isCertificateFailure(err)
    ? new AuthenticationError(message, { cause: err })
    : new ConnectionError(message, { broker: address, cause: err });
}

/**
 * Opens a TLS connection and completes the handshake within `timeoutMs`.
 *
 * @example
 * ```ts ignore
 * import { openTls, resolveTls } from "./tls.ts";
 * const conn = await openTls("broker.example.com", 9093, resolveTls(true)!, 10_000);
 * conn.close();
 * ```
 *
 * @param host The host to connect to.
 * @param port The port.
 * @param tls Checked settings from {@linkcode resolveTls}.
 * @param timeoutMs The bound on TCP connect plus handshake.
 * @throws {AuthenticationError} when a certificate check fails.
 * @throws {ConnectionError} when the broker is unreachable, the time runs out or the handshake breaks.
 */
export async function openTls(
  host: string,
  port: number,
  tls: ResolvedTls,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Deno.TlsConn> {
  const address = `${host}:${port}`;
  const deadline = Date.now() + timeoutMs;
  let conn: Deno.TlsConn;
  try {
    conn = await within(
      open(host, port, tls, deadline),
      deadline,
      (late) => late.then((c) => c.close(), () => {}),
      signal,
    );
  } catch (cause) {
    if (signal?.aborted) throw signal.reason;
    if (cause instanceof Late) {
      throw new ConnectionError(`Cannot connect to ${address}: timed out after ${timeoutMs} ms`, {
        broker: address,
        cause,
      });
    }
    // Certificate errors can surface here when the runtime handshakes eagerly.
    if (isCertificateFailure(cause)) throw tlsError(cause, address, tls.clientCert !== null);
    throw new ConnectionError(`Cannot connect to ${address}: ${(cause as Error).message}`, {
      broker: address,
      cause,
    });
  }
  try {
    await within(conn.handshake(), deadline, (late) => {
      late.catch(() => {});
      try {
        conn.close();
      } catch {
        // already closed
      }
    }, signal);
  } catch (cause) {
    try {
      conn.close();
    } catch {
      // already closed
    }
    if (signal?.aborted) throw signal.reason;
    if (cause instanceof Late) {
      throw new ConnectionError(`TLS handshake with ${address} timed out after ${timeoutMs} ms`, {
        broker: address,
        cause,
      });
    }
    throw tlsError(cause, address, tls.clientCert !== null);
  }
  return conn;
}

async function open(host: string, port: number, tls: ResolvedTls, deadline: number): Promise<Deno.TlsConn> {
  if (tls.clientCert) {
    // Only Deno.connectTls can present a client certificate.
    return await Deno.connectTls({
      hostname: host,
      port,
      caCerts: tls.caCerts,
      unsafelyDisableHostnameVerification: tls.unsafelyDisableHostnameVerification,
      ...tls.clientCert,
    });
  }
  // Otherwise TCP first, then TLS on it: the TCP connect can be aborted, the
  // socket gets TCP_NODELAY (a TlsConn has no setNoDelay), and the verified
  // name may differ from the address (serverName).
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
  let tcp: Deno.TcpConn;
  try {
    tcp = await Deno.connect({ hostname: host, port, signal: abort.signal });
  } finally {
    clearTimeout(timer);
  }
  try {
    tcp.setNoDelay(true);
    tcp.setKeepAlive(true);
  } catch {
    // Not every transport supports these options.
  }
  return await Deno.startTls(tcp, {
    hostname: tls.serverName ?? host,
    caCerts: tls.caCerts,
    unsafelyDisableHostnameVerification: tls.unsafelyDisableHostnameVerification,
  });
}

/** The deadline passed. */
class Late extends Error {}

/**
 * Awaits `p` until `deadline` (or until `signal` aborts: then it rejects with the reason); on
 * either it calls `onLate(p)` to dispose of whatever `p` still yields.
 */
function within<T>(
  p: Promise<T>,
  deadline: number,
  onLate: (late: Promise<T>) => void,
  signal?: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      unlisten();
      onLate(p);
      reject(new Late("deadline passed"));
    }, Math.max(0, deadline - Date.now()));
    const unlisten = onAbort(signal, () => {
      clearTimeout(timer);
      onLate(p);
      reject(signal!.reason);
    });
    p.then((v) => {
      clearTimeout(timer);
      unlisten();
      resolve(v);
    }, (e) => {
      clearTimeout(timer);
      unlisten();
      reject(e);
    });
  });
}
