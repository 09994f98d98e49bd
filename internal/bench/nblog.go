package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// NBLog counts the write transactions an ovsdb-server has committed to a
// standalone database, from outside the server and its clients: a standalone
// database file is a log with one record per committed transaction that
// changed something ("OVSDB JSON <length> <sha1>" then the JSON of the
// change), after the schema record. Read-only transactions and transactions
// that change nothing leave no record, which is exactly "a write" here.
//
// ovsdb-server compacts the file now and then (at most every 10 minutes and
// only once it is large): it writes a new file holding a snapshot and renames
// it over the old one. NBLog notices the new inode, skips the snapshot and
// goes on counting; transactions committed between its last read and the
// compaction are lost to it, which Compactions reports.
type NBLog struct {
	path        string
	ino         uint64
	off         int64
	skipData    int // data records still to skip (the snapshot after a compaction)
	Compactions int
}

// NBTxn is one committed transaction.
type NBTxn struct {
	// At is the server's commit time ("_date", milliseconds since the epoch).
	At time.Time
	// Comment is the transaction's "_comment": ovn-northd and ovn-nbctl sign
	// theirs; kvnet's libovsdb client sends none ("").
	Comment string
}

// OpenNBLog starts counting at the current end of the database file.
func OpenNBLog(path string) (*NBLog, error) {
	l := &NBLog{path: path}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	l.ino = inode(fi)
	// Skip what is there: parse it once so the offset lands on a record boundary.
	if _, err := l.Read(); err != nil {
		return nil, err
	}
	return l, nil
}

// Read returns the transactions committed since the last Read.
func (l *NBLog) Read() ([]NBTxn, error) {
	fi, err := os.Stat(l.path)
	if err != nil {
		return nil, err
	}
	if ino := inode(fi); ino != l.ino || fi.Size() < l.off {
		// Compacted: a new file with the schema and one snapshot record.
		l.ino, l.off, l.skipData = ino, 0, 1
		l.Compactions++
	}
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(l.off, io.SeekStart); err != nil {
		return nil, err
	}
	txns, n, err := parseNBLog(bufio.NewReaderSize(f, 1<<16), l.off == 0, &l.skipData)
	l.off += n
	return txns, err
}

// parseNBLog parses complete records from r and returns the transactions
// and the number of bytes consumed (a record still being written is left for
// the next call). atStart says r starts at the file's beginning, whose first
// record is the schema.
func parseNBLog(r *bufio.Reader, atStart bool, skipData *int) ([]NBTxn, int64, error) {
	var txns []NBTxn
	var consumed int64
	first := atStart
	for {
		hdr, err := r.ReadString('\n')
		if err != nil {
			return txns, consumed, nil // partial header: wait for more
		}
		f := strings.Fields(hdr)
		if len(f) != 4 || f[0] != "OVSDB" || f[1] != "JSON" {
			return txns, consumed, fmt.Errorf("database log: unexpected record header %q", strings.TrimSpace(hdr))
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return txns, consumed, fmt.Errorf("database log: bad length in %q", strings.TrimSpace(hdr))
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return txns, consumed, nil // partial record
		}
		consumed += int64(len(hdr) + n)
		// The JSON is followed by a newline.
		if b, err := r.Peek(1); err == nil && b[0] == '\n' {
			_, _ = r.ReadByte()
			consumed++
		}
		if first {
			first = false // the schema
			continue
		}
		if *skipData > 0 {
			*skipData--
			continue
		}
		var rec struct {
			Date    int64  `json:"_date"`
			Comment string `json:"_comment"`
		}
		if err := json.Unmarshal(bytes.TrimSpace(body), &rec); err != nil {
			return txns, consumed, fmt.Errorf("database log: %w", err)
		}
		txns = append(txns, NBTxn{At: time.UnixMilli(rec.Date), Comment: rec.Comment})
	}
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// CountBy counts txns by comment ("" = unsigned clients such as kvnet).
func CountBy(txns []NBTxn) map[string]int {
	out := map[string]int{}
	for _, t := range txns {
		out[t.Comment]++
	}
	return out
}
