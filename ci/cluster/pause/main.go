// Command pause is the test cluster's sandbox image program: PID 1 of every
// pod sandbox. It reaps children and exits on SIGTERM or SIGINT. Nothing can
// be pulled on the CI machines, so the suite builds this into a FROM scratch
// image instead of using registry.k8s.io/pause.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
