// Command kubebin prints a directory holding the named Kubernetes binaries
// (default: the ones envtest needs), building them from Go module sources
// first if they are not cached. For the Makefile:
//
//	go run ./images/kubebin/cmd/kubebin [-cache DIR] [name ...]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spklab/spklab/images/kubebin"
)

func main() {
	cache := flag.String("cache", "", "cache root (default: the user cache dir's spklab/kubebin)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: kubebin [-cache DIR] [name ...]\nknown names: %s\ndefault: %s\n",
			strings.Join(kubebin.Names(), " "), strings.Join(kubebin.EnvtestNames(), " "))
		flag.PrintDefaults()
	}
	flag.Parse()
	names := flag.Args()
	if len(names) == 0 {
		names = kubebin.EnvtestNames()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Logs go to stderr so that stdout is only the directory.
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	dir, err := kubebin.Ensure(ctx, kubebin.Options{CacheDir: *cache, Log: log}, names...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(dir)
}
