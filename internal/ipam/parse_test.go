package ipam

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in, want string // want "" = error
	}{
		{"10.16.0.5", "10.16.0.5"},
		{" 10.16.0.5 ", "10.16.0.5"},
		{"fd00:10::1", "fd00:10::1"},
		{"FD00:10::1", "fd00:10::1"},
		{"fd00:0010::0001", "fd00:10::1"},
		{"fd00:10:0:0:0:0:0:1", "fd00:10::1"},
		{"::ffff:10.0.0.1", "10.0.0.1"},
		{"fe80::1%eth0", ""},
		{"10.16.0", ""},
		{"10.16.0.256", ""},
		{"", ""},
		{"10.16.0.5/24", ""},
	}
	for _, tt := range tests {
		got, err := ParseAddr(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseAddr(%q) = %v, %v; want ErrInvalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != netip.MustParseAddr(tt.want) {
			t.Errorf("ParseAddr(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

// TestParseCIDRBlock covers case B05's malformed CIDRs.
func TestParseCIDRBlock(t *testing.T) {
	tests := []struct {
		in      string
		want    string // joined prefixes; "" = error
		errText string
	}{
		{"10.16.0.0/16", "10.16.0.0/16", ""},
		{"fd00::/112", "fd00::/112", ""},
		{"10.16.0.0/16,fd00::/112", "10.16.0.0/16,fd00::/112", ""},
		{"fd00::/112, 10.16.0.0/16", "10.16.0.0/16,fd00::/112", ""},
		{"FD00:0::/64", "fd00::/64", ""},
		{"10.20.0.0/33", "", "malformed"},
		{"10.20.0/24", "", "malformed"},
		{"10.20.0.0", "", "no prefix length"},
		{"fd00::/129", "", "malformed"},
		{"", "", "empty"},
		{"10.20.0.0/24,10.21.0.0/24", "", "more than one IPv4"},
		{"10.20.0.5/24", "", "did you mean 10.20.0.0/24"},
		{"::ffff:10.0.0.0/104", "", "IPv4-mapped"},
		{"10.20.0.0/24,", "", "empty"},
		{"fe80::/64%eth0", "", "malformed"},
	}
	for _, tt := range tests {
		ps, err := ParseCIDRBlock(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("ParseCIDRBlock(%q) = %v, %v; want ErrInvalid mentioning %q", tt.in, ps, err, tt.errText)
			}
			continue
		}
		if err != nil || joinPrefixes(ps) != tt.want {
			t.Errorf("ParseCIDRBlock(%q) = %v, %v; want %s", tt.in, ps, err, tt.want)
		}
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		in, want string // want as Range.String(); "" = error
	}{
		{"10.0.6.1", "10.0.6.1"},
		{"10.0.6.20..10.0.6.255", "10.0.6.20..10.0.6.255"},
		{"10.0.6.20 .. 10.0.6.20", "10.0.6.20"},
		{"10.0.6.0/30", "10.0.6.0..10.0.6.3"},
		{"FD00::0001..fd00::00ff", "fd00::1..fd00::ff"},
		{"10.0.6.30..10.0.6.20", ""},
		{"10.0.6.1..fd00::1", ""},
		{"10.0.6.1..", ""},
		{"..10.0.6.1", ""},
		{"10.0.6.1-10.0.6.5", ""},
		{"10.0.6.5/24", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := ParseRange(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseRange(%q) = %v, %v; want ErrInvalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseRange(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	r, _ := ParseRange("10.0.6.20..10.0.6.22")
	for s, want := range map[string]bool{"10.0.6.19": false, "10.0.6.20": true, "10.0.6.22": true, "10.0.6.23": false, "::ffff:10.0.6.21": false} {
		if got := r.Contains(netip.MustParseAddr(s)); got != want {
			t.Errorf("Contains(%s) = %v, want %v", s, got, want)
		}
	}
}

// TestParseExclude covers case B06a: inclusive ranges, a > b and ranges
// outside the CIDR rejected.
func TestParseExclude(t *testing.T) {
	cidrs, _ := ParseCIDRBlock("10.0.6.0/24,fd00:6::/120")
	tests := []struct {
		in      string
		wantErr error
	}{
		{"10.0.6.1", nil},
		{"10.0.6.20..10.0.6.255", nil},
		{"10.0.6.0..10.0.6.255", nil},
		{"fd00:6::10..fd00:6::20", nil},
		{"10.0.6.30..10.0.6.20", ErrInvalid},
		{"10.0.7.1", ErrOutOfRange},
		{"10.0.6.200..10.0.7.5", ErrOutOfRange},
		{"fd00:7::1", ErrOutOfRange},
		{"10.0.6.1..fd00:6::1", ErrInvalid},
		{"bogus", ErrInvalid},
	}
	for _, tt := range tests {
		_, err := ParseExclude(tt.in, cidrs)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("ParseExclude(%q) = %v, want %v", tt.in, err, tt.wantErr)
		}
	}
	v4only, _ := ParseCIDRBlock("10.0.6.0/24")
	if _, err := ParseExclude("fd00:6::1", v4only); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("IPv6 exclude in an IPv4 subnet: %v, want ErrOutOfRange", err)
	}
}

func TestParseMAC(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0a:1b:2c:3d:4e:5f", "0a:1b:2c:3d:4e:5f"},
		{"0A-1B-2C-3D-4E-5F", "0a:1b:2c:3d:4e:5f"},
		{"00:00:00:12:34:56", "00:00:00:12:34:56"},
		{"01:00:5e:00:00:01", ""},                // multicast
		{"ff:ff:ff:ff:ff:ff", ""},                // broadcast
		{"00:00:00:00:00:00", ""},                // zero
		{"00:00:00:00:00:00:00:01", ""},          // EUI-64
		{"0a:1b:2c:3d:4e", ""},                   // short
		{"", ""},                                 // empty
		{"0a:1b:2c:3d:4e:5f:00:00:00:00:00", ""}, // garbage
	}
	for _, tt := range tests {
		got, err := ParseMAC(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseMAC(%q) = %q, %v; want ErrInvalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMAC(%q) = %q, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

// TestValidateSubnet covers the API validation of cases B02, B05 and B06a.
func TestValidateSubnet(t *testing.T) {
	tests := []struct {
		name                    string
		cidr, gateway, protocol string
		excludes                []string
		wantErr                 error
		errText                 string
	}{
		{name: "ok v4", cidr: "10.16.0.0/16", gateway: "10.16.0.1"},
		{name: "ok default gateway", cidr: "10.16.0.0/16"},
		{name: "ok dual", cidr: "10.16.0.0/16,fd00::/112", gateway: "10.16.0.1,fd00::1", protocol: "Dual"},
		{name: "ok dual gateway v6 first", cidr: "10.16.0.0/16,fd00::/112", gateway: "FD00::0001, 10.16.0.1"},
		{name: "ok excludes", cidr: "10.0.6.0/24", gateway: "10.0.6.1", excludes: []string{"10.0.6.1", "10.0.6.2", "10.0.6.20..10.0.6.255"}},
		{name: "B02 network", cidr: "192.168.50.0/24", gateway: "192.168.50.0", wantErr: ErrInvalid, errText: "network address"},
		{name: "B02 broadcast", cidr: "192.168.50.0/24", gateway: "192.168.50.255", wantErr: ErrInvalid, errText: "broadcast address"},
		{name: "B02 outside", cidr: "192.168.50.0/24", gateway: "192.168.51.1", wantErr: ErrOutOfRange, errText: "not inside"},
		{name: "B02 v6 all zeros", cidr: "fd00::/112", gateway: "fd00::", wantErr: ErrInvalid, errText: "network"},
		{name: "B02 v6 all zeros expanded", cidr: "fd00::/112", gateway: "fd00:0:0:0:0:0:0:0", wantErr: ErrInvalid, errText: "network"},
		{name: "B05 /33", cidr: "10.20.0.0/33", wantErr: ErrInvalid},
		{name: "B05 short", cidr: "10.20.0/24", wantErr: ErrInvalid},
		{name: "B05 no prefix", cidr: "10.20.0.0", wantErr: ErrInvalid},
		{name: "B05 /129", cidr: "fd00::/129", wantErr: ErrInvalid},
		{name: "B05 empty", cidr: "", wantErr: ErrInvalid},
		{name: "B05 two v4 with IPv4", cidr: "10.20.0.0/24,10.21.0.0/24", protocol: "IPv4", wantErr: ErrInvalid},
		{name: "host bits", cidr: "10.20.0.5/24", wantErr: ErrInvalid, errText: "10.20.0.0/24"},
		{name: "protocol mismatch", cidr: "10.20.0.0/24", protocol: "IPv6", wantErr: ErrInvalid, errText: "does not match"},
		{name: "protocol dual single", cidr: "fd00::/112", protocol: "Dual", wantErr: ErrInvalid},
		{name: "protocol unknown", cidr: "10.20.0.0/24", protocol: "ipv4", wantErr: ErrInvalid},
		{name: "dual one gateway", cidr: "10.16.0.0/16,fd00::/112", gateway: "10.16.0.1", wantErr: ErrInvalid, errText: "one address per CIDR"},
		{name: "dual two v4 gateways", cidr: "10.16.0.0/16,fd00::/112", gateway: "10.16.0.1,10.16.0.2", wantErr: ErrInvalid, errText: "two IPv4"},
		{name: "v6 gateway in v4 subnet", cidr: "10.16.0.0/16", gateway: "fd00::1", wantErr: ErrOutOfRange},
		{name: "gateway garbage", cidr: "10.16.0.0/16", gateway: "10.16.0", wantErr: ErrInvalid},
		{name: "B06a reversed", cidr: "10.0.6.0/24", excludes: []string{"10.0.6.30..10.0.6.20"}, wantErr: ErrInvalid, errText: "start is after end"},
		{name: "B06a outside", cidr: "10.0.6.0/24", excludes: []string{"10.0.6.250..10.0.7.10"}, wantErr: ErrOutOfRange},
		{name: "B06a mixed", cidr: "10.0.6.0/24,fd00::/120", excludes: []string{"10.0.6.1..fd00::1"}, wantErr: ErrInvalid, errText: "mixes"},
		{name: "/31 point to point", cidr: "10.0.0.0/31", gateway: "10.0.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateSubnet(tt.cidr, tt.gateway, tt.excludes, tt.protocol)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errText) {
				t.Fatalf("error %v; want %v mentioning %q", err, tt.wantErr, tt.errText)
			}
		})
	}
}

func TestDefaultGateway(t *testing.T) {
	for p, want := range map[string]string{"10.16.0.0/16": "10.16.0.1", "fd00::/112": "fd00::1", "10.0.0.4/32": "10.0.0.4"} {
		if got := DefaultGateway(netip.MustParsePrefix(p)).String(); got != want {
			t.Errorf("DefaultGateway(%s) = %s, want %s", p, got, want)
		}
	}
}

// FuzzParseExclude: the parsers never panic, and what they accept is
// canonical and consistent.
func FuzzParseExclude(f *testing.F) {
	for _, s := range []string{
		"10.0.6.1", "10.0.6.20..10.0.6.255", "10.0.6.30..10.0.6.20", "fd00::1..FD00::ff",
		"10.0.6.0/30", "10.0.6.1..fd00::1", "..", "1..2..3", "::ffff:10.0.6.1", "fe80::1%eth0",
		"10.0.6.0/24,fd00::/120", "", " ", "10.0.6.1/33", "fd00::/129",
	} {
		f.Add(s)
	}
	cidrs, _ := ParseCIDRBlock("10.0.6.0/24,fd00::/120")
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := ParseRange(s); err == nil {
			if r.To.Less(r.From) || r.From.Is4() != r.To.Is4() || r.From.Is4In6() || r.From.Zone() != "" {
				t.Fatalf("ParseRange(%q) = %v: not a canonical range", s, r)
			}
			if again, err := ParseRange(r.String()); err != nil || again != r {
				t.Fatalf("ParseRange(%q) = %v, does not round-trip: %v, %v", s, r, again, err)
			}
		}
		if r, err := ParseExclude(s, cidrs); err == nil && !cidrs[familyOf(r.From)].Contains(r.To) {
			t.Fatalf("ParseExclude(%q) = %v outside %v", s, r, cidrs)
		}
		if ps, err := ParseCIDRBlock(s); err == nil {
			for _, p := range ps {
				if p.Masked() != p {
					t.Fatalf("ParseCIDRBlock(%q) accepted non-canonical %s", s, p)
				}
			}
		}
		_, _ = ParseAddr(s)
		_, _ = ParseMAC(s)
		_ = ValidateSubnet(s, s, []string{s}, s)
		_ = ValidateSubnet("10.0.6.0/24,fd00::/120", s, []string{s}, "")
	})
}
