package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat times (100 on
// every architecture Go supports on Linux).
const clockTicks = 100

// procSample is a process's CPU time and memory at one moment.
type procSample struct {
	at    time.Time
	cpu   time.Duration // user + system
	rss   int64         // bytes, VmRSS
	hwm   int64         // bytes, VmHWM: the peak resident set so far
	alive bool
}

// sampleProc reads /proc/<pid>/stat (utime, stime) and /proc/<pid>/status
// (VmRSS, VmHWM).
func sampleProc(pid int) procSample {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s
	}
	// The command name (field 2) may hold spaces: fields count from the last ')'.
	rest := string(stat)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+2:]
	}
	f := strings.Fields(rest)
	if len(f) > 12 {
		ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14
		st, _ := strconv.ParseInt(f[12], 10, 64) // field 15
		s.cpu = time.Duration(ut+st) * time.Second / clockTicks
		s.alive = f[0] != "Z" // a zombie has exited
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb := func() int64 {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
		switch k {
		case "VmRSS":
			s.rss = kb()
		case "VmHWM":
			s.hwm = kb()
		}
	}
	return s
}

// sampleDatabase sums the CPU time of every PostgreSQL process (the
// postmaster and its backends; a backend that exits between two samples takes
// its time with it, so this is a lower bound).
func sampleDatabase() procSample {
	s := procSample{at: time.Now()}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		p := sampleProc(pid)
		s.cpu += p.cpu
		s.rss += p.rss
		s.alive = s.alive || p.alive
	}
	return s
}

// usage is what a process used between two samples.
type usage struct {
	Wall    time.Duration `json:"wallNs"`
	CPU     time.Duration `json:"cpuNs"`
	CPUPct  float64       `json:"cpuPercentOfOneCore"`
	PeakRSS int64         `json:"peakRssBytes"`
	EndRSS  int64         `json:"endRssBytes"`
}

func between(a, b procSample) usage {
	u := usage{Wall: b.at.Sub(a.at), CPU: b.cpu - a.cpu, PeakRSS: b.hwm, EndRSS: b.rss}
	if u.Wall > 0 {
		u.CPUPct = 100 * u.CPU.Seconds() / u.Wall.Seconds()
	}
	return u
}

// loadAvg is /proc/loadavg's first three fields.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
