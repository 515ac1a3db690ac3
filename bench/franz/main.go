// franz-go contender of bench/run.ts: franz <mode> '<job json>', mode produce|awaited|consume|latency.
// The same contract as bench/contenders/common.ts: logs go to stderr, one `RESULT <json>` line to stdout.
// Configured with kgo's documented options; everything not set here is kgo's default.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type job struct {
	Brokers        []string `json:"brokers"`
	Topic          string   `json:"topic"`
	Records        int      `json:"records"`
	ValueSize      int      `json:"valueSize"`
	Acks           int      `json:"acks"`
	Codec          string   `json:"codec"`
	LingerMs       *float64 `json:"lingerMs"`
	BatchBytes     int      `json:"batchBytes"`
	Chunk          int      `json:"chunk"`
	MaxOutstanding int      `json:"maxOutstanding"`
	PayloadFile    string   `json:"payloadFile"`
	GroupID        string   `json:"groupId"`
	Rate           int      `json:"rate"`
	DurationS      float64  `json:"durationS"`
}

type percentiles struct {
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
	Count int     `json:"count"`
}

type result struct {
	Ok           bool         `json:"ok"`
	Reason       string       `json:"reason,omitempty"`
	Records      int          `json:"records,omitempty"`
	Bytes        int          `json:"bytes,omitempty"`
	Seconds      float64      `json:"seconds,omitempty"`
	Latency      *percentiles `json:"latency,omitempty"`
	AchievedRate float64      `json:"achievedRate,omitempty"`
	Note         string       `json:"note,omitempty"`
}

func emit(r result) {
	b, _ := json.Marshal(r)
	fmt.Printf("RESULT %s\n", b)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	emit(result{Ok: false, Reason: "error: " + err.Error()})
	os.Exit(1)
}

func pct(s []float64) *percentiles {
	sort.Float64s(s)
	n := len(s)
	at := func(q float64) float64 {
		if n == 0 {
			return math.NaN()
		}
		i := int(math.Ceil(q*float64(n))) - 1
		if i < 0 {
			i = 0
		}
		if i > n-1 {
			i = n - 1
		}
		return s[i]
	}
	p := &percentiles{P50: at(0.5), P99: at(0.99), P999: at(0.999), Count: n}
	if n > 0 {
		p.Max = s[n-1]
	}
	return p
}

func payloads(j job) ([][]byte, error) {
	if j.PayloadFile == "" {
		v := []byte(strings.Repeat("x", j.ValueSize))
		return [][]byte{v}, nil
	}
	f, err := os.Open(j.PayloadFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(sc.Bytes()) > 0 {
			out = append(out, append([]byte(nil), sc.Bytes()...))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no payloads", j.PayloadFile)
	}
	return out, sc.Err()
}

func producerOpts(j job, defaults bool) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(j.Brokers...), kgo.DefaultProduceTopic(j.Topic)}
	if j.Acks == 1 {
		// kgo's idempotent producer needs acks=all.
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	} else {
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	switch j.Codec {
	case "none":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case "gzip":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "snappy":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		return nil, fmt.Errorf("unknown codec %s", j.Codec)
	}
	if !defaults {
		if j.LingerMs != nil {
			opts = append(opts, kgo.ProducerLinger(time.Duration(*j.LingerMs*float64(time.Millisecond))))
		}
		if j.BatchBytes > 0 {
			opts = append(opts, kgo.ProducerBatchMaxBytes(int32(j.BatchBytes)))
		}
	}
	return opts, nil
}

// produce: every record handed to Produce (asynchronous), kgo's own buffer bounding what is outstanding
// (MaxBufferedRecords, default 10,000): how a Go throughput application drives it. Timed until every
// record is acknowledged.
func produce(j job) result {
	vals, err := payloads(j)
	if err != nil {
		fail(err)
	}
	opts, err := producerOpts(j, false)
	if err != nil {
		fail(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fail(err)
	}
	defer cl.Close()
	ctx := context.Background()
	var firstErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(j.Records)
	cb := func(_ *kgo.Record, err error) {
		if err != nil {
			firstErr.CompareAndSwap(nil, err)
		}
		wg.Done()
	}
	t0 := time.Now()
	for i := 0; i < j.Records; i++ {
		cl.Produce(ctx, &kgo.Record{Value: vals[i%len(vals)]}, cb)
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	if e := firstErr.Load(); e != nil {
		return result{Ok: false, Reason: "error: " + e.(error).Error()}
	}
	return result{Ok: true, Records: j.Records, Bytes: j.Records * j.ValueSize, Seconds: secs}
}

// awaited: ProduceSync of job.chunk records, one call after another, kgo's defaults.
func awaited(j job) result {
	vals, err := payloads(j)
	if err != nil {
		fail(err)
	}
	opts, err := producerOpts(j, true)
	if err != nil {
		fail(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fail(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: vals[i%len(vals)]}).FirstErr(); err != nil {
			fail(err)
		}
	}
	chunk := j.Chunk
	if chunk < 1 {
		chunk = 1
	}
	calls := (j.Records + chunk - 1) / chunk
	lat := make([]float64, 0, calls)
	recs := make([]*kgo.Record, chunk)
	t0 := time.Now()
	for c := 0; c < calls; c++ {
		first := c * chunk
		n := chunk
		if j.Records-first < n {
			n = j.Records - first
		}
		for i := 0; i < n; i++ {
			recs[i] = &kgo.Record{Value: vals[(first+i)%len(vals)]}
		}
		t := time.Now()
		if err := cl.ProduceSync(ctx, recs[:n]...).FirstErr(); err != nil {
			fail(err)
		}
		lat = append(lat, float64(time.Since(t).Nanoseconds())/1e6)
	}
	secs := time.Since(t0).Seconds()
	return result{Ok: true, Records: j.Records, Bytes: j.Records * j.ValueSize, Seconds: secs, Latency: pct(lat)}
}

func consumerClient(j job) *kgo.Client {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(j.Brokers...),
		kgo.ConsumerGroup(j.GroupID),
		kgo.ConsumeTopics(j.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		fail(err)
	}
	return cl
}

// consume: PollFetches in a fresh group from the beginning; timed from the first record to the last.
func consume(j job) result {
	cl := consumerClient(j)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	count, bytes := 0, 0
	var first, last time.Time
	for count < j.Records {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return result{Ok: false, Reason: fmt.Sprintf("timed out after %d of %d records", count, j.Records)}
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return result{Ok: false, Reason: "error: " + errs[0].Err.Error()}
		}
		fs.EachRecord(func(r *kgo.Record) {
			if count == 0 {
				first = time.Now()
			}
			bytes += len(r.Value)
			count++
		})
	}
	last = time.Now()
	return result{Ok: true, Records: count, Bytes: bytes, Seconds: last.Sub(first).Seconds()}
}

func nowMs() float64 { return float64(time.Now().UnixNano()) / 1e6 }

// latency: one process produces at job.rate records/s (each record one Produce call carrying its send
// time, float64 epoch ms in the first 8 bytes) and consumes; latency = delivery - send time.
func latency(j job) result {
	opts, err := producerOpts(j, true)
	if err != nil {
		fail(err)
	}
	prod, err := kgo.NewClient(opts...)
	if err != nil {
		fail(err)
	}
	defer prod.Close()
	cons := consumerClient(j)
	defer cons.Close()
	total := int(float64(j.Rate) * j.DurationS)
	lat := make([]float64, 0, total)
	var mu sync.Mutex
	var warm atomic.Bool
	received := 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				t := nowMs()
				if len(r.Value) < 9 {
					return
				}
				if r.Value[8] == 'w' {
					warm.Store(true)
					return
				}
				sent := math.Float64frombits(binary.LittleEndian.Uint64(r.Value))
				mu.Lock()
				lat = append(lat, t-sent)
				received++
				mu.Unlock()
			})
		}
	}()
	size := j.ValueSize
	if size < 9 {
		size = 9
	}
	warmUntil := time.Now().Add(60 * time.Second)
	for !warm.Load() {
		if time.Now().After(warmUntil) {
			return result{Ok: false, Reason: "warm-up record never came back"}
		}
		v := make([]byte, size)
		v[8] = 'w'
		prod.Produce(ctx, &kgo.Record{Value: v}, nil)
		time.Sleep(100 * time.Millisecond)
	}
	interval := time.Second / time.Duration(j.Rate)
	t0 := time.Now()
	sent := 0
	for sent < total {
		due := t0.Add(time.Duration(sent) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		v := make([]byte, size)
		v[8] = 'r'
		binary.LittleEndian.PutUint64(v, math.Float64bits(nowMs()))
		prod.Produce(ctx, &kgo.Record{Value: v}, nil)
		sent++
	}
	offered := float64(sent) / time.Since(t0).Seconds()
	if err := prod.Flush(ctx); err != nil {
		fail(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		r := received
		mu.Unlock()
		if r >= total {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if received < total {
		return result{Ok: false, Reason: fmt.Sprintf("received %d of %d", received, total)}
	}
	return result{Ok: true, Records: total, Bytes: total * j.ValueSize, Seconds: float64(total) / offered,
		Latency: pct(lat), AchievedRate: offered}
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: franz produce|awaited|consume|latency '<job json>'")
		os.Exit(2)
	}
	var j job
	if err := json.Unmarshal([]byte(os.Args[2]), &j); err != nil {
		fail(err)
	}
	var r result
	switch os.Args[1] {
	case "produce":
		r = produce(j)
	case "awaited":
		r = awaited(j)
	case "consume":
		r = consume(j)
	case "latency":
		r = latency(j)
	default:
		fail(fmt.Errorf("unknown mode %s", os.Args[1]))
	}
	emit(r)
}
