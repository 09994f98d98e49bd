package main

import (
	"os"
	"testing"

	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// TestMainSetsControllerRuntimeLogger runs main itself (kvnet --help) and
// checks that controller-runtime's root logger was given a real sink. Without
// one, the first controller-runtime log call 30 s after start prints the
// "log.SetLogger(...) was never called" stack trace (make sandbox did). With
// SetLogger called, controller-runtime never prints it.
func TestMainSetsControllerRuntimeLogger(t *testing.T) {
	if ctrllog.Log.Enabled() {
		t.Fatal("controller-runtime logger already set before main ran: the test proves nothing")
	}
	args := os.Args
	t.Cleanup(func() { os.Args = args })
	os.Args = []string{"kvnet", "--help"}
	stdout := os.Stdout
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	os.Stdout = devnull // the help text
	main()
	os.Stdout = stdout
	if !ctrllog.Log.Enabled() {
		t.Fatal("main did not set controller-runtime's logger (ctrl.SetLogger); it will print a stack trace 30 s in")
	}
}

func TestCtrlLoggerChaosDiscards(t *testing.T) {
	if ctrlLogger([]string{"chaos", "--id", "1"}).Enabled() {
		t.Error("chaos: controller-runtime logs would mix into its report on stderr")
	}
	if !ctrlLogger([]string{"sandbox", "up"}).Enabled() {
		t.Error("sandbox up: controller-runtime logs are dropped")
	}
}
