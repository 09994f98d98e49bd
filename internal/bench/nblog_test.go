package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// record renders one standalone-database log record (the checksum is not
// checked by the parser).
func record(json string) string {
	return fmt.Sprintf("OVSDB JSON %d 0000000000000000000000000000000000000000\n%s\n", len(json), json)
}

const schemaRecord = `{"name":"OVN_Northbound","version":"7.0.0","tables":{}}`

func TestParseNBLog(t *testing.T) {
	log := record(schemaRecord) +
		record(`{"_date":1795959725353,"_is_diff":true,"Logical_Switch_Port":{"u1":{"up":true}},"_comment":"ovn-northd"}`) +
		record(`{"_date":1795959725400,"Logical_Switch_Port":{"u2":{"name":"p1"}}}`) +
		"OVSDB JSON 50 00" // a record still being written
	skip := 0
	txns, n, err := parseNBLog(bufio.NewReader(strings.NewReader(log)), true, &skip)
	if err != nil {
		t.Fatal(err)
	}
	if len(txns) != 2 || txns[0].Comment != "ovn-northd" || txns[1].Comment != "" || txns[1].At.UnixMilli() != 1795959725400 {
		t.Fatalf("txns = %+v", txns)
	}
	if want := int64(len(log) - len("OVSDB JSON 50 00")); n != want {
		t.Errorf("consumed %d bytes, want %d (up to the partial record)", n, want)
	}
	if by := CountBy(txns); by[""] != 1 || by["ovn-northd"] != 1 {
		t.Errorf("by comment = %v", by)
	}
}

func TestParseNBLogRejectsGarbage(t *testing.T) {
	skip := 0
	if _, _, err := parseNBLog(bufio.NewReader(strings.NewReader("not a log\n")), false, &skip); err == nil {
		t.Fatal("garbage must be an error")
	}
}

func TestNBLogFollowsAppendsAndCompaction(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nb.db")
	write := func(name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	appendTo := func(s string) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	write("nb.db", record(schemaRecord)+record(`{"_date":1}`)+record(`{"_date":2}`))
	l, err := OpenNBLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if txns, err := l.Read(); err != nil || len(txns) != 0 {
		t.Fatalf("what was there before Open must not count: %v (%v)", txns, err)
	}
	appendTo(record(`{"_date":3}`) + record(`{"_date":4,"_comment":"ovn-nbctl: x"}`))
	if txns, err := l.Read(); err != nil || len(txns) != 2 {
		t.Fatalf("appended: %v %v", txns, err)
	}
	// Compaction: a new file (new inode) with the schema and a snapshot.
	write("nb.db.tmp", record(schemaRecord)+record(`{"_date":5,"_comment":"compacting database online"}`)+record(`{"_date":6}`))
	if err := os.Rename(filepath.Join(dir, "nb.db.tmp"), path); err != nil {
		t.Fatal(err)
	}
	txns, err := l.Read()
	if err != nil || len(txns) != 1 || txns[0].At.UnixMilli() != 6 {
		t.Fatalf("after compaction: %v %v (the snapshot must not count)", txns, err)
	}
	if l.Compactions != 1 {
		t.Errorf("compactions = %d", l.Compactions)
	}
}
