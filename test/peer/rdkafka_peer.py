"""A librdkafka-based peer for the interop tests (what they used kcat for).

Runs with confluent-kafka (its manylinux wheel bundles librdkafka), which
test/_tools.ts installs on first use into the cache folder outside the repo.

  rdkafka_peer.py produce --brokers B --topic T [--partition P] [--compression C] [--transactional-id ID [--abort]]
      stdin: one JSON object per line: {"key": str|null, "value": str|null, "headers": [[str, str|null], ...]}
  rdkafka_peer.py consume --brokers B --topic T [--timeout S]
      reads every partition from the beginning to its end; stdout: one JSON object per record:
      {"partition", "offset", "key", "value", "headers"} (strings as UTF-8, null kept as null)

Exits non-zero with the error on stderr when anything fails.
"""

import argparse
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition, OFFSET_BEGINNING


def text(b):
    return None if b is None else b.decode("utf-8")


def data(s):
    return None if s is None else s.encode("utf-8")


def produce(args):
    conf = {
        "bootstrap.servers": args.brokers,
        "compression.codec": args.compression,
        "enable.idempotence": True,
        "linger.ms": 5,
    }
    if args.transactional_id:
        conf["transactional.id"] = args.transactional_id
    failures = []

    def delivered(err, _msg):
        if err is not None:
            failures.append(str(err))

    producer = Producer(conf)
    if args.transactional_id:
        producer.init_transactions(args.timeout)
        producer.begin_transaction()
    for line in sys.stdin:
        if not line.strip():
            continue
        m = json.loads(line)
        kwargs = {"key": data(m.get("key")), "value": data(m.get("value")), "on_delivery": delivered}
        headers = m.get("headers") or []
        if headers:
            kwargs["headers"] = [(k, data(v)) for k, v in headers]
        if args.partition is not None:
            kwargs["partition"] = args.partition
        producer.produce(args.topic, **kwargs)
    if args.transactional_id and args.abort:
        producer.flush(args.timeout)
        producer.abort_transaction(args.timeout)
    elif args.transactional_id:
        producer.commit_transaction(args.timeout)
    left = producer.flush(args.timeout)
    if left:
        failures.append(f"{left} messages not delivered within {args.timeout} s")
    if failures:
        sys.exit("produce failed: " + "; ".join(failures))


def consume(args):
    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": f"rdkafka-peer-{uuid.uuid4()}",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "isolation.level": args.isolation,
    })
    meta = consumer.list_topics(args.topic, timeout=args.timeout).topics[args.topic]
    if meta.error is not None:
        raise KafkaException(meta.error)
    partitions = sorted(meta.partitions)
    consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in partitions])
    pending = set(partitions)
    deadline = time.monotonic() + args.timeout
    while pending:
        if time.monotonic() > deadline:
            sys.exit(f"consume: partitions {sorted(pending)} did not reach their end within {args.timeout} s")
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        err = msg.error()
        if err is not None:
            if err.code() == err._PARTITION_EOF:
                pending.discard(msg.partition())
                continue
            raise KafkaException(err)
        print(json.dumps({
            "partition": msg.partition(),
            "offset": msg.offset(),
            "key": text(msg.key()),
            "value": text(msg.value()),
            "headers": [[k, text(v)] for k, v in (msg.headers() or [])],
        }, ensure_ascii=False), flush=True)
    consumer.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["produce", "consume"])
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partition", type=int)
    parser.add_argument("--compression", default="none")
    parser.add_argument("--transactional-id")
    parser.add_argument("--abort", action="store_true", help="abort the transaction instead of committing it")
    parser.add_argument("--isolation", default="read_committed")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    produce(args) if args.command == "produce" else consume(args)


if __name__ == "__main__":
    main()
