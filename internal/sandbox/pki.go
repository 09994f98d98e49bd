package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// pkiDir holds the sandbox's CA, serving and client certificates and the
// service-account signing key.
func (c Config) pkiDir(elem ...string) string { return c.Path(append([]string{"pki"}, elem...)...) }

// EnsurePKI writes the CA, the apiserver's serving certificate, an admin
// client certificate (group system:masters) and the service-account key pair,
// keeping any that already exist, then the admin kubeconfig.
func EnsurePKI(c Config) error {
	if err := os.MkdirAll(c.pkiDir(), 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(c.pkiDir("ca.crt")); err == nil {
		return writeKubeconfig(c)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kvnet-sandbox-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	if err := writePEM(c.pkiDir("ca.crt"), "CERTIFICATE", caDER); err != nil {
		return err
	}
	if err := writeECKey(c.pkiDir("ca.key"), caKey); err != nil {
		return err
	}
	serving := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if err := issue(c, "apiserver", serving, ca, caKey); err != nil {
		return err
	}
	admin := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kvnet-admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if err := issue(c, "admin", admin, ca, caKey); err != nil {
		return err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	if err := writePEM(c.pkiDir("sa.key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)); err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	if err := writePEM(c.pkiDir("sa.pub"), "PUBLIC KEY", pub); err != nil {
		return err
	}
	return writeKubeconfig(c)
}

// IssueServingCert signs a serving certificate for name with the sandbox CA
// (used for kvnet's admission webhook) and returns the cert and key paths.
func IssueServingCert(c Config, name string, dnsNames []string, ips []net.IP) (string, string, error) {
	caPEM, err := os.ReadFile(c.pkiDir("ca.crt"))
	if err != nil {
		return "", "", err
	}
	keyPEM, err := os.ReadFile(c.pkiDir("ca.key"))
	if err != nil {
		return "", "", err
	}
	cb, _ := pem.Decode(caPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return "", "", fmt.Errorf("sandbox CA in %s is unreadable", c.pkiDir())
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return "", "", err
	}
	caKey, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: name}, DNSNames: dnsNames, IPAddresses: ips,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if err := issue(c, name, tmpl, ca, caKey); err != nil {
		return "", "", err
	}
	return c.pkiDir(name + ".crt"), c.pkiDir(name + ".key"), nil
}

func issue(c Config, name string, tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().AddDate(5, 0, 0)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("sign %s certificate: %w", name, err)
	}
	if err := writePEM(c.pkiDir(name+".crt"), "CERTIFICATE", der); err != nil {
		return err
	}
	return writeECKey(c.pkiDir(name+".key"), key)
}

func writeECKey(path string, k *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return err
	}
	return writePEM(path, "EC PRIVATE KEY", der)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// writeKubeconfig writes the admin kubeconfig every sandbox component and
// the user share. It points at 127.0.0.1, which inside a node namespace is
// the kubelet stand-in's forwarder to the same apiserver.
func writeKubeconfig(c Config) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kvnet-sandbox"] = &clientcmdapi.Cluster{
		Server:               fmt.Sprintf("https://127.0.0.1:%d", c.APIServerPort()),
		CertificateAuthority: c.pkiDir("ca.crt"),
	}
	cfg.AuthInfos["kvnet-admin"] = &clientcmdapi.AuthInfo{
		ClientCertificate: c.pkiDir("admin.crt"),
		ClientKey:         c.pkiDir("admin.key"),
	}
	cfg.Contexts["kvnet-sandbox"] = &clientcmdapi.Context{Cluster: "kvnet-sandbox", AuthInfo: "kvnet-admin"}
	cfg.CurrentContext = "kvnet-sandbox"
	if err := os.MkdirAll(filepath.Dir(c.Kubeconfig()), 0o755); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*cfg, c.Kubeconfig())
}
