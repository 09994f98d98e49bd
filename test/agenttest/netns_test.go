package agenttest

import "testing"

func TestRequiredBy(t *testing.T) {
	for _, c := range []struct {
		ci, require string
		want        string
	}{
		{"", "", ""},
		{"true", "", "CI=true"},
		{"false", "", ""},
		{"0", "", ""},
		{"", "1", "KVNET_REQUIRE_ENVTEST=1"},
		{"false", "1", "KVNET_REQUIRE_ENVTEST=1"},
	} {
		t.Setenv("CI", c.ci)
		t.Setenv("KVNET_REQUIRE_ENVTEST", c.require)
		if got := RequiredBy(); got != c.want {
			t.Errorf("CI=%q KVNET_REQUIRE_ENVTEST=%q: RequiredBy() = %q, want %q", c.ci, c.require, got, c.want)
		}
	}
}
