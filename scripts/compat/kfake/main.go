// Command kfake runs franz-go's in-memory Kafka cluster (pkg/kfake) on
// loopback ports for kafka-deno's compatibility lane (scripts/compat.ts).
//
//	kfake -ports 9850,9851,9852
//
// One port per node. It prints "kfake: listening on HOST:PORT,..." once every
// node accepts connections and runs until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	portsFlag := flag.String("ports", "9850", "comma-separated loopback ports, one per node")
	flag.Parse()
	var ports []int
	for _, s := range strings.Split(*portsFlag, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || p <= 0 || p > 65535 {
			fmt.Fprintf(os.Stderr, "kfake: bad port %q\n", s)
			os.Exit(2)
		}
		ports = append(ports, p)
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(len(ports)),
		kfake.Ports(ports...),
		kfake.ClusterID("kafka-deno-compat"),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kfake: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("kfake: listening on %s\n", strings.Join(c.ListenAddrs(), ","))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	c.Close()
}
