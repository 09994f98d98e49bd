package cases

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const repo = "../.."

// caseID matches a case ID of CASES.md's families in code, also inside
// names (TestB08_..., TestVMKeepsAddressesB09B14): a family prefix not
// preceded by a capital letter, two digits, no third digit.
var caseID = regexp.MustCompile(`(?:^|[^A-Z])((?:B|NS|LB|SEC|MN|DH|SR|DP|OP)[0-9]{2})(?:[^0-9]|$)`)

// row is one line of docs/cases.md's table.
var row = regexp.MustCompile(`^\| *([A-Z]+[0-9]{2}) *\|(.*)\|(.*)\| *$`)

type entry struct {
	fault string
	tests map[string][]string // package dir -> test names
}

func readIndex(t *testing.T) map[string]entry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "docs", "cases.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]entry{}
	for _, l := range strings.Split(string(b), "\n") {
		m := row.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		id, e := m[1], entry{fault: strings.TrimSpace(m[2]), tests: map[string][]string{}}
		if _, dup := out[id]; dup {
			t.Errorf("docs/cases.md: %s has two rows", id)
		}
		for _, group := range strings.Split(m[3], ";") {
			pkg, names, ok := strings.Cut(group, ":")
			if !ok {
				t.Errorf("docs/cases.md: %s: %q is not \"package: Test, ...\"", id, strings.TrimSpace(group))
				continue
			}
			for _, n := range strings.Split(names, ",") {
				e.tests[strings.TrimSpace(pkg)] = append(e.tests[strings.TrimSpace(pkg)], strings.TrimSpace(n))
			}
		}
		out[id] = e
	}
	if len(out) == 0 {
		t.Fatal("docs/cases.md has no case rows")
	}
	return out
}

// usedIDs maps each case ID in the module's Go files to the files using it.
func usedIDs(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	err := filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "k8s": // k8s: hack/k8s, the control-plane build module
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "zz_generated.deepcopy.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repo, p)
		for _, m := range caseID.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = append(used[m[1]], rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return used
}

func TestEveryCaseIDInCodeIsExplained(t *testing.T) {
	index := readIndex(t)
	used := usedIDs(t)
	if len(used) == 0 {
		t.Fatal("no case IDs found in the Go sources: the scan is broken")
	}
	ids := make([]string, 0, len(used))
	for id := range used {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		e, ok := index[id]
		if !ok {
			t.Errorf("%s is used in %s but has no row in docs/cases.md", id, strings.Join(dedup(used[id]), ", "))
			continue
		}
		if e.fault == "" || len(e.tests) == 0 {
			t.Errorf("docs/cases.md: %s needs its fault and the tests that cover it", id)
		}
	}
}

func TestCasesIndexNamesExistingTests(t *testing.T) {
	for id, e := range readIndex(t) {
		for pkg, names := range e.tests {
			src := packageTestSource(t, pkg)
			for _, n := range names {
				if !regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(n) + `\(t \*testing\.T\)`).MatchString(src) {
					t.Errorf("docs/cases.md: %s names %s in %s, which has no such test", id, n, pkg)
				}
			}
		}
	}
}

func packageTestSource(t *testing.T, pkg string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repo, pkg, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Errorf("docs/cases.md: package %s has no test files (%v)", pkg, err)
		return ""
	}
	var sb strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(b)
	}
	return sb.String()
}

func dedup(xs []string) []string {
	sort.Strings(xs)
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}
