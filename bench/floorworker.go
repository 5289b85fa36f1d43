package main

import (
	"fmt"
	"os"
	"os/exec"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// runFloorWorker is the floor's worker: this program run again with
// -floor-worker, a process of its own as cmd/worker is, so its CPU and memory
// are read the same way.
func runFloorWorker(hostPort string) int {
	c, err := client.Dial(client.Options{HostPort: hostPort, Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor worker:", err)
		return 1
	}
	defer c.Close()
	w := worker.New(c, floorTaskQueue, floorWorkerOptions())
	registerFloor(w)
	if err := w.Run(worker.InterruptCh()); err != nil {
		fmt.Fprintln(os.Stderr, "floor worker:", err)
		return 1
	}
	return 0
}

// startFloorWorker starts the floor's worker process against a server.
func startFloorWorker(ds *devServer, logDir, name string) (*workerProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-floor-worker", ds.hostPort)
	return startWorkerProc(ds, cmd, logDir, name+"-floor-worker", floorTaskQueue, "floor worker")
}
