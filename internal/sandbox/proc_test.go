package sandbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// niceOf reads a process's niceness from /proc/<pid>/stat (field 19, proc(5)).
func niceOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	n, err := strconv.Atoi(f[16]) // field 19; f[0] is field 3
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Start runs a daemon at the niceness asked for (ovs-ctl's -10 for the data
// plane), records its own PID, and Stop ends it.
func TestStartNiceAndStop(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("a negative niceness needs root")
	}
	c := Config{StateDir: t.TempDir()}
	for _, nice := range []int{0, dataPlaneNice} {
		name := fmt.Sprintf("sleeper-%d", nice)
		pid, err := c.Start(Proc{Name: name, Nice: nice, Args: []string{"sleep", "30"}})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(b)) == "sleep" {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got := niceOf(t, pid); got != nice {
			t.Errorf("%s: niceness %d, want %d", name, got, nice)
		}
		if got := c.Running()[name]; got != pid {
			t.Errorf("%s: recorded PID %d, want %d", name, got, pid)
		}
		if err := c.Stop(name, time.Second); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Running()[name]; ok {
			t.Errorf("%s still running after Stop", name)
		}
	}
}
