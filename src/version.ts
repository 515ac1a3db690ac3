/** kafka-deno's version, sent to brokers in ApiVersions (keep in step with deno.json). */
export const VERSION = "0.1.0";
