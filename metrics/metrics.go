// Package metrics exposes the worker's Prometheus endpoint: the Temporal SDK's
// metrics, our workflow metrics (emitted through the SDK's replay-safe
// handler) and Graph request metrics, plus health endpoints for probes.
package metrics

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// Registry collects every series. The SDK names a metric with different tag
// sets in different places, which Prometheus refuses within one family, so
// series are kept here and padded to the union of their family's labels when
// scraped.
type Registry struct {
	mu     sync.Mutex
	series map[string]*series // key: name + sorted labels
	kinds  map[string]kind    // family name -> kind
}

type kind int

const (
	counter kind = iota
	gauge
	histogram
)

var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

type series struct {
	name   string
	labels map[string]string
	value  float64
	counts []uint64 // histogram buckets
	sum    float64
	n      uint64
}

// GraphThrottleWaitSeconds is the time Graph asked the worker to wait
// (Retry-After), in seconds.
const GraphThrottleWaitSeconds = "cloudsync_graph_throttle_wait_seconds_total"

// zeroAtStart are the label-less counters exported at 0 before their first
// increment: an alert on rate() or increase() needs the series to exist.
var zeroAtStart = []string{GraphThrottleWaitSeconds}

// NewRegistry returns a registry holding only the zeroAtStart counters.
func NewRegistry() *Registry {
	r := &Registry{series: map[string]*series{}, kinds: map[string]kind{}}
	for _, name := range zeroAtStart {
		r.Add(name, nil, 0)
	}
	return r
}

func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == ':' {
			return r
		}
		return '_'
	}, name)
}

func (r *Registry) get(name string, k kind, labels map[string]string) *series {
	name = sanitize(name)
	keys := make([]string, 0, len(labels))
	for l := range labels {
		keys = append(keys, l)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(name)
	for _, l := range keys {
		b.WriteString("\xff" + l + "=" + labels[l])
	}
	key := b.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.kinds[name]; !ok {
		r.kinds[name] = k
	}
	s, ok := r.series[key]
	if !ok {
		clean := map[string]string{}
		for l, v := range labels {
			clean[sanitize(l)] = v
		}
		s = &series{name: name, labels: clean}
		if k == histogram {
			s.counts = make([]uint64, len(buckets))
		}
		r.series[key] = s
	}
	return s
}

// Add increases a counter.
func (r *Registry) Add(name string, labels map[string]string, v float64) {
	s := r.get(name, counter, labels)
	r.mu.Lock()
	s.value += v
	r.mu.Unlock()
}

// Set sets a gauge.
func (r *Registry) Set(name string, labels map[string]string, v float64) {
	s := r.get(name, gauge, labels)
	r.mu.Lock()
	s.value = v
	r.mu.Unlock()
}

// Observe records a duration in a histogram (seconds).
func (r *Registry) Observe(name string, labels map[string]string, d time.Duration) {
	s := r.get(name, histogram, labels)
	v := d.Seconds()
	r.mu.Lock()
	for i, b := range buckets {
		if v <= b {
			s.counts[i]++
		}
	}
	s.sum += v
	s.n++
	r.mu.Unlock()
}

// Describe is empty: the registry is an unchecked collector.
func (r *Registry) Describe(chan<- *prometheus.Desc) {}

// Collect emits every series, each family padded to one label set.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	defer r.mu.Unlock()
	union := map[string]map[string]bool{}
	for _, s := range r.series {
		if union[s.name] == nil {
			union[s.name] = map[string]bool{}
		}
		for l := range s.labels {
			union[s.name][l] = true
		}
	}
	descs := map[string]*prometheus.Desc{}
	names := map[string][]string{}
	for name, ls := range union {
		keys := make([]string, 0, len(ls))
		for l := range ls {
			keys = append(keys, l)
		}
		sort.Strings(keys)
		names[name] = keys
		descs[name] = prometheus.NewDesc(name, name, keys, nil)
	}
	for _, s := range r.series {
		values := make([]string, len(names[s.name]))
		for i, l := range names[s.name] {
			values[i] = s.labels[l]
		}
		var m prometheus.Metric
		var err error
		switch r.kinds[s.name] {
		case counter:
			m, err = prometheus.NewConstMetric(descs[s.name], prometheus.CounterValue, s.value, values...)
		case gauge:
			m, err = prometheus.NewConstMetric(descs[s.name], prometheus.GaugeValue, s.value, values...)
		case histogram:
			b := map[float64]uint64{}
			for i, ub := range buckets {
				b[ub] = s.counts[i]
			}
			m, err = prometheus.NewConstHistogram(descs[s.name], s.n, s.sum, b, values...)
		}
		if err == nil {
			ch <- m
		}
	}
}

// TemporalHandler adapts the registry to the Temporal SDK's metrics handler;
// workflows reach it through workflow.GetMetricsHandler, which is replay-safe.
func (r *Registry) TemporalHandler() client.MetricsHandler {
	return handler{r: r, tags: map[string]string{}}
}

type handler struct {
	r    *Registry
	tags map[string]string
}

func (h handler) WithTags(t map[string]string) client.MetricsHandler {
	m := make(map[string]string, len(h.tags)+len(t))
	for k, v := range h.tags {
		m[k] = v
	}
	for k, v := range t {
		m[k] = v
	}
	return handler{r: h.r, tags: m}
}

func (h handler) Counter(name string) client.MetricsCounter {
	return counterFn(func(v int64) { h.r.Add(name, h.tags, float64(v)) })
}
func (h handler) Gauge(name string) client.MetricsGauge {
	return gaugeFn(func(v float64) { h.r.Set(name, h.tags, v) })
}
func (h handler) Timer(name string) client.MetricsTimer {
	return timerFn(func(d time.Duration) { h.r.Observe(name, h.tags, d) })
}

type counterFn func(int64)

func (f counterFn) Inc(v int64) { f(v) }

type gaugeFn func(float64)

func (f gaugeFn) Update(v float64) { f(v) }

type timerFn func(time.Duration)

func (f timerFn) Record(d time.Duration) { f(d) }
