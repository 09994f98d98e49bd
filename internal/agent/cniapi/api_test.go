package cniapi

import "testing"

func TestParseNetConfDefaults(t *testing.T) {
	conf, err := ParseNetConf([]byte(`{"cniVersion":"1.0.0","name":"kvnet","type":"kvnet-cni"}`))
	if err != nil {
		t.Fatal(err)
	}
	if conf.Socket != DefaultSocket || conf.TimeoutSeconds != DefaultTimeoutSeconds || conf.Name != "kvnet" {
		t.Fatalf("conf = %+v", conf)
	}
	conf, err = ParseNetConf([]byte(`{"cniVersion":"1.1.0","name":"n","type":"kvnet-cni","socket":"/x.sock","timeoutSeconds":5}`))
	if err != nil || conf.Socket != "/x.sock" || conf.TimeoutSeconds != 5 {
		t.Fatalf("conf = %+v, %v", conf, err)
	}
	for _, bad := range []string{`{`, `{"timeoutSeconds":-1}`, `{"socket":5}`} {
		if _, err := ParseNetConf([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
