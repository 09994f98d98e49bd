package nbtest

import (
	"encoding/json"
	"fmt"
	"sort"
)

// sorted renders rows in a stable order. Rows go through JSON so pointer
// columns print their values, and set columns are sorted (OVSDB sets are
// unordered).
func sorted[T any](rows []T) []string {
	out := make([]string, len(rows))
	for i := range rows {
		b, _ := json.Marshal(rows[i])
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		for _, v := range m {
			if l, ok := v.([]any); ok {
				sort.Slice(l, func(a, b int) bool { return fmt.Sprint(l[a]) < fmt.Sprint(l[b]) })
			}
		}
		b, _ = json.Marshal(m)
		out[i] = string(b)
	}
	sort.Strings(out)
	return out
}
