// Command pause is the pod sandbox's process, mlkube's stand-in for registry.k8s.io/pause: it holds
// the pod's namespaces open, sleeps until SIGTERM or SIGINT, and reaps the zombies it inherits as
// PID 1 of a pod that shares its process namespace (shareProcessNamespace: true).
//
// Built by images/build.py with CGO_ENABLED=0 (a static binary for an image FROM scratch).
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const version = "mlkube-pause 1"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println(version)
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "warning: pause should be the first process (PID 1)")
	}
	// PID 1 gets no default signal dispositions: without these handlers SIGTERM would be ignored
	// and every pod deletion would wait for SIGKILL.
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	reap() // children that exited before the handler was installed
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Printf("Shutting down, got signal: %v\n", sig)
		os.Exit(0)
	}
}

// reap collects every exited child. Signals coalesce, so one SIGCHLD may stand for many exits.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
