/**
 * A second local Kafka broker (KRaft, combined node) that requires security,
 * for the TLS and SASL tests. It runs beside the plaintext broker of
 * scripts/kafka.ts, from the same jars, with its own state folder and ports:
 *
 * | port | listener | security protocol | what it checks |
 * |---|---|---|---|
 * | 9192 | INTERNAL | PLAINTEXT | inter-broker only |
 * | 9193 | CONTROLLER | PLAINTEXT | KRaft controller |
 * | 9194 | SSL | SSL | TLS, no client certificate |
 * | 9195 | MTLS | SSL | mutual TLS: a client certificate signed by the test CA |
 * | 9196 | SASL_PLAINTEXT | SASL_PLAINTEXT | PLAIN, SCRAM-SHA-512 (sessions of 3 s: KIP-368); not SCRAM-SHA-256 |
 * | 9197 | SASL_SSL | SASL_SSL | PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 over TLS |
 * | 9198 | OAUTH | SASL_PLAINTEXT | OAUTHBEARER with unsecured JWTs (`alg: none`, Kafka's default validator) |
 * | 9199 | OIDC | SASL_PLAINTEXT | OAUTHBEARER with RS256 JWTs checked by Kafka's OIDC validator against a JWKS |
 *
 * (`KAFKA_DENO_SECURE_PORT` moves the whole block; the state folder is named after it, so two
 * instances share no files.) ACLs are enforced by StandardAuthorizer, with
 * `allow.everyone.if.no.acl.found=true` and `User:ANONYMOUS` as super user:
 * only resources that a test puts ACLs on are restricted. Certificates are made with
 * openssl at start: a throwaway CA, a broker certificate for 127.0.0.1 and
 * localhost, a client certificate, and a second CA that signed nothing (for
 * "wrong CA" tests). SCRAM users are written at storage format time
 * (`--add-scram`), PLAIN users come from the listeners' JAAS config.
 *
 * The OIDC listener validates tokens with Kafka's
 * `OAuthBearerValidatorCallbackHandler` (KIP-768) against a JWKS file
 * (`sasl.oauthbearer.jwks.endpoint.url=file:...`, allowed by the
 * `org.apache.kafka.sasl.oauthbearer.allowed.urls` system property); the
 * matching private key is what test/_oidc.ts, a small local token endpoint,
 * signs with. Both OAUTHBEARER listeners end sessions at token expiry
 * (`connections.max.reauth.ms`), so clients must re-authenticate (KIP-368).
 *
 *     deno run -A scripts/kafka_secure.ts start|stop|status|logs|reset
 *
 * @module
 */

import {
  BROKER_LOG4J,
  type BrokerInstance,
  exists,
  formattedBy,
  halt,
  instanceStatus,
  launch,
  markFormatted,
  portOpen,
  run,
  stateFiles,
  tail,
  waitReady,
} from "./_broker_process.ts";
import { cacheDir, classpath, ensureJars, KAFKA_VERSION } from "./kafka.ts";

/** The secured broker's host. */
export const SECURE_HOST = "127.0.0.1";

const BASE = Number(Deno.env.get("KAFKA_DENO_SECURE_PORT") ?? 9192);

/** The secured broker's ports, by listener. */
export const SECURE_PORTS = {
  internal: BASE,
  controller: BASE + 1,
  ssl: BASE + 2,
  mtls: BASE + 3,
  saslPlaintext: BASE + 4,
  saslSsl: BASE + 5,
  oauth: BASE + 6,
  oidc: BASE + 7,
} as const;

/** The issuer and audience the OIDC listener expects in a JWT. */
export const OIDC_ISSUER = "https://kafka-deno-test-idp.invalid";
/** The audience the OIDC listener expects. */
export const OIDC_AUDIENCE = "kafka-deno-secure-broker";
/** The key id of the JWKS key. */
export const OIDC_KID = "kafka-deno-test-key";

/** The user known to the secured broker for every mechanism (test credentials, not secrets). */
export const SECURE_USER: { username: string; password: string } = {
  username: "alice",
  password: "alice-secret",
};

/** The session lifetime the SASL_PLAINTEXT listener gives SCRAM-SHA-512 logins (KIP-368 re-authentication). */
export const REAUTH_MS = 3_000;

/** The secured broker's state folder. */
export function secureStateDir(): string {
  return `${cacheDir()}/broker-secure-${BASE}`;
}

/** Paths of the files the secured broker uses. */
export function securePaths(): ReturnType<typeof stateFiles> & { certs: string; jwks: string; jwk: string } {
  const s = secureStateDir();
  return {
    ...stateFiles(s),
    certs: `${s}/certs`,
    jwks: `${s}/certs/jwks.json`,
    jwk: `${s}/certs/oidc-key.jwk.json`,
  };
}

/** The private JWK (RS256) the local OIDC token endpoint signs with; its public half is the broker's JWKS. */
export async function oidcSigningKey(): Promise<JsonWebKey> {
  return JSON.parse(await Deno.readTextFile(securePaths().jwk));
}

/** Makes the RS256 key pair of the test identity provider unless it exists: a private JWK and a JWKS file. */
async function makeOidcKeys(p: ReturnType<typeof securePaths>): Promise<void> {
  if (await exists(p.jwk) && await exists(p.jwks)) return;
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const priv = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const pub = await crypto.subtle.exportKey("jwk", pair.publicKey);
  await Deno.writeTextFile(p.jwk, JSON.stringify({ ...priv, kid: OIDC_KID }));
  await Deno.writeTextFile(
    p.jwks,
    JSON.stringify({ keys: [{ kty: pub.kty, n: pub.n, e: pub.e, alg: "RS256", use: "sig", kid: OIDC_KID }] }),
  );
}

/** How long the OAUTHBEARER listeners' sessions may last at most; token expiry ends them sooner. */
const OAUTH_REAUTH_MS = 600_000;

/** PEM texts a client needs to talk to the secured broker. */
export interface SecureCertificates {
  /** The CA that signed the broker's and the client's certificates. */
  ca: string;
  /** A CA that signed nothing here: trusting only it must fail. */
  otherCa: string;
  /** The client certificate (signed by `ca`). */
  clientCert: string;
  /** The client certificate's private key (PKCS#8). */
  clientKey: string;
}

/** Reads the certificates written by {@linkcode startSecure}. */
export async function secureCertificates(): Promise<SecureCertificates> {
  const d = securePaths().certs;
  return {
    ca: await Deno.readTextFile(`${d}/ca.pem`),
    otherCa: await Deno.readTextFile(`${d}/other-ca.pem`),
    clientCert: await Deno.readTextFile(`${d}/client.pem`),
    clientKey: await Deno.readTextFile(`${d}/client.key`),
  };
}

/**
 * Makes the test PKI with openssl: a CA, a broker certificate valid for
 * 127.0.0.1 and localhost, a client certificate, and an unrelated CA. Keys are
 * unencrypted PKCS#8 (what Kafka's PEM key store and Deno both read).
 */
export async function makeCertificates(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  const o = (args: string[]) => run("openssl", args, { cwd: dir });
  const ca = async (name: string, cn: string) => {
    await o([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "30",
      "-subj",
      `/CN=${cn}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
  };
  const leaf = async (name: string, cn: string, ext: string) => {
    await o([
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${cn}`,
    ]);
    await Deno.writeTextFile(`${dir}/${name}.ext`, ext);
    await o([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "30",
      "-extfile",
      `${name}.ext`,
    ]);
  };
  await ca("ca", "kafka-deno test CA");
  await ca("other-ca", "kafka-deno unrelated CA");
  await leaf(
    "broker",
    "localhost",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  await leaf(
    "client",
    "kafka-deno-client",
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
  );
  // Kafka's PEM key store: one file with the private key and the certificate chain.
  const keyStore = (await Deno.readTextFile(`${dir}/broker.key`)) +
    (await Deno.readTextFile(`${dir}/broker.pem`)) +
    (await Deno.readTextFile(`${dir}/ca.pem`));
  await Deno.writeTextFile(`${dir}/broker-keystore.pem`, keyStore);
}

/** A Kafka Uuid in its text form (base64url, no padding), made here rather than by a JVM start. */
function randomKafkaUuid(): string {
  for (let i = 0; i < 100; i++) {
    const b = crypto.getRandomValues(new Uint8Array(16));
    const s = btoa(String.fromCharCode(...b)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    // Kafka avoids ids that start with "-" (they read as command line flags).
    if (!s.startsWith("-")) return s;
  }
  throw new Error("kafka-secure: could not make a cluster id");
}

function jaasPlain(user: { username: string; password: string }): string {
  return `org.apache.kafka.common.security.plain.PlainLoginModule required user_${user.username}="${user.password}";`;
}

function jwksUrl(p: ReturnType<typeof securePaths>): string {
  return new URL(`file://${p.jwks}`).href;
}

function serverProperties(p: ReturnType<typeof securePaths>): string {
  const h = SECURE_HOST;
  const P = SECURE_PORTS;
  const scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
  const oauthLogin = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;";
  const listeners = `INTERNAL://${h}:${P.internal},CONTROLLER://${h}:${P.controller},SSL://${h}:${P.ssl},` +
    `MTLS://${h}:${P.mtls},SASL_PLAINTEXT://${h}:${P.saslPlaintext},SASL_SSL://${h}:${P.saslSsl},` +
    `OAUTH://${h}:${P.oauth},OIDC://${h}:${P.oidc}`;
  const lines = [
    "# Written by scripts/kafka_secure.ts: a combined KRaft node that requires TLS or SASL, for tests.",
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.bootstrap.servers=${h}:${P.controller}`,
    `listeners=${listeners}`,
    `advertised.listeners=${listeners}`,
    "listener.security.protocol.map=INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,MTLS:SSL," +
    "SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,OAUTH:SASL_PLAINTEXT,OIDC:SASL_PLAINTEXT",
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=INTERNAL",
    // TLS, shared by SSL, MTLS and SASL_SSL.
    "ssl.keystore.type=PEM",
    `ssl.keystore.location=${p.certs}/broker-keystore.pem`,
    "ssl.truststore.type=PEM",
    `ssl.truststore.location=${p.certs}/ca.pem`,
    "ssl.client.auth=none",
    "listener.name.mtls.ssl.client.auth=required",
    "ssl.endpoint.identification.algorithm=https",
    // SASL.
    "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
    // SASL_PLAINTEXT leaves SCRAM-SHA-256 out, so a client can meet a mechanism the broker does not enable.
    "listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512",
    "listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
    ...["sasl_plaintext", "sasl_ssl"].flatMap((l) => [
      `listener.name.${l}.plain.sasl.jaas.config=${jaasPlain(SECURE_USER)}`,
      `listener.name.${l}.scram-sha-256.sasl.jaas.config=${scram}`,
      `listener.name.${l}.scram-sha-512.sasl.jaas.config=${scram}`,
    ]),
    // KIP-368: short sessions on one listener+mechanism, so re-authentication is exercised.
    `listener.name.sasl_plaintext.scram-sha-512.connections.max.reauth.ms=${REAUTH_MS}`,
    // OAUTHBEARER, unsecured JWTs: Kafka's default server callback (OAuthBearerUnsecuredValidatorCallbackHandler).
    "listener.name.oauth.sasl.enabled.mechanisms=OAUTHBEARER",
    `listener.name.oauth.oauthbearer.sasl.jaas.config=${oauthLogin}`,
    `listener.name.oauth.oauthbearer.connections.max.reauth.ms=${OAUTH_REAUTH_MS}`,
    // OAUTHBEARER, OIDC (KIP-768): signed JWTs checked against the JWKS file.
    "listener.name.oidc.sasl.enabled.mechanisms=OAUTHBEARER",
    `listener.name.oidc.oauthbearer.sasl.jaas.config=${oauthLogin}`,
    "listener.name.oidc.oauthbearer.sasl.server.callback.handler.class=" +
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
    `listener.name.oidc.oauthbearer.connections.max.reauth.ms=${OAUTH_REAUTH_MS}`,
    `sasl.oauthbearer.jwks.endpoint.url=${jwksUrl(p)}`,
    `sasl.oauthbearer.expected.issuer=${OIDC_ISSUER}`,
    `sasl.oauthbearer.expected.audience=${OIDC_AUDIENCE}`,
    // Kafka's default of 30 s would accept a token that expired moments ago.
    "sasl.oauthbearer.clock.skew.seconds=1",
    // ACLs (StandardAuthorizer, KRaft): resources without ACLs stay open to everyone, so only the
    // resources a test denies are denied; ANONYMOUS (the PLAINTEXT listeners, so the tests' ACL setup) is a super user.
    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "allow.everyone.if.no.acl.found=true",
    "super.users=User:ANONYMOUS",
    `log.dirs=${p.data}`,
    "num.partitions=1",
    "auto.create.topics.enable=false", // the tests create their topics (test/_broker.ts)
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=3",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "transaction.state.log.num.partitions=3",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
    "num.network.threads=2",
    "num.io.threads=2",
  ];
  return lines.join("\n") + "\n";
}

/** The secured broker's state: its pid when running. */
export function secureStatus(): Promise<{ running: boolean; pid: number | null; log: string }> {
  return instanceStatus(secureInstance());
}

/** The secured broker as a managed instance. */
function secureInstance(): BrokerInstance {
  return {
    name: "kafka-secure",
    files: securePaths(),
    readyPort: SECURE_PORTS.saslSsl,
    classpath: classpath(),
    // A small heap and the C1 JIT only: it starts faster and these tests move little data.
    jvmOptions: [
      "-Xms512m",
      "-Xmx512m",
      "-server",
      "-XX:+UseG1GC",
      "-XX:MaxGCPauseMillis=20",
      "-XX:+ExplicitGCInvokesConcurrent",
      "-XX:TieredStopAtLevel=1",
      "-Djava.awt.headless=true",
      // Kafka 4 refuses OAuth URLs and files that are not allowed by these properties.
      `-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${jwksUrl(securePaths())}`,
      `-Dorg.apache.kafka.sasl.oauthbearer.allowed.files=${securePaths().jwks}`,
    ],
  };
}

/**
 * Starts the secured broker unless ours already runs, then waits (bounded)
 * until it answers. Certificates and SCRAM users are made when the state
 * folder is new. Returns whether this call started it.
 */
export async function startSecure(opts: { timeoutMs?: number; quiet?: boolean } = {}): Promise<boolean> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const p = securePaths();
  const st = await secureStatus();
  if (st.running) {
    await waitReady(secureInstance(), st.pid!, timeoutMs, Date.now());
    return false;
  }
  for (const port of Object.values(SECURE_PORTS)) {
    if (await portOpen(port)) {
      throw new Error(
        `kafka-secure: ${SECURE_HOST}:${port} is taken by a process that is not this project's secured broker; ` +
          `stop it or set KAFKA_DENO_SECURE_PORT`,
      );
    }
  }
  await ensureJars();
  // The certificates are valid for 30 days: make new ones (and a new storage) well before that.
  const certAge = await Deno.stat(`${p.certs}/broker-keystore.pem`).then((s) =>
    Date.now() - (s.mtime?.getTime() ?? 0)
  )
    .catch(() => Infinity);
  if (!await formattedBy(p, KAFKA_VERSION, "kafka-secure") || certAge > 20 * 86_400_000) {
    await makeCertificates(p.certs);
  }
  // The storage starts afresh at every start: the tests add ACLs and SCRAM users and change them, and what one
  // run leaves behind must not decide the next (a second run on the same machine failed SCRAM-SHA-512 logins).
  await Deno.remove(p.data, { recursive: true }).catch(() => {});
  await Deno.mkdir(p.logs, { recursive: true });
  await makeOidcKeys(p);
  await Deno.writeTextFile(p.config, serverProperties(p));
  await Deno.writeTextFile(p.log4j, BROKER_LOG4J);
  const java = [
    "-Xmx256m",
    `-Dlog4j2.configurationFile=${p.log4j}`,
    `-Dkafka.logs.dir=${p.logs}`,
    "-cp",
    classpath(),
  ];
  const clusterId = randomKafkaUuid();
  const u = SECURE_USER;
  await run("java", [
    ...java,
    "kafka.tools.StorageTool",
    "format",
    "--standalone",
    "-t",
    clusterId,
    "-c",
    p.config,
    "--add-scram",
    `SCRAM-SHA-256=[name=${u.username},password=${u.password}]`,
    "--add-scram",
    `SCRAM-SHA-512=[name=${u.username},password=${u.password}]`,
  ]);
  await markFormatted(p, KAFKA_VERSION);
  const started = Date.now();
  const pid = await launch(secureInstance(), timeoutMs);
  if (!opts.quiet) {
    console.error(
      `kafka-secure: started (pid ${pid}) on ${SECURE_HOST}:${SECURE_PORTS.internal}-${SECURE_PORTS.oidc} in ${
        ((Date.now() - started) / 1000).toFixed(1)
      } s; log ${p.serverLog}`,
    );
  }
  return true;
}

/** Stops the secured broker by its pid: SIGTERM, SIGKILL after a bounded wait. Returns whether it ran. */
export function stopSecure(opts: { timeoutMs?: number } = {}): Promise<boolean> {
  return halt(secureInstance(), opts);
}

async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  switch (cmd) {
    case "start":
      await startSecure();
      return 0;
    case "stop":
      console.error(await stopSecure() ? "kafka-secure: stopped" : "kafka-secure: not running");
      return 0;
    case "status": {
      const st = await secureStatus();
      console.log(st.running ? `running (pid ${st.pid}); log ${st.log}` : `stopped; log ${st.log}`);
      return 0;
    }
    case "reset":
      await stopSecure();
      await Deno.remove(secureStateDir(), { recursive: true }).catch(() => {});
      console.error(`kafka-secure: removed ${secureStateDir()}`);
      return 0;
    case "logs":
      console.log(await tail(securePaths().serverLog, Number(rest[0] ?? 60)));
      return 0;
    default:
      console.error("usage: deno run -A scripts/kafka_secure.ts start|stop|status|reset|logs [lines]");
      return 2;
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    Deno.exit(1);
  }
}
