package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v3"
	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// tlsFlags configure HTTPS: certificate files, or certificates from an
// ACME CA (Let's Encrypt).
func tlsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this PEM certificate (chain) file; re-read when it changes; implies --secure-cookies", Sources: cli.EnvVars("CONFAB_TLS_CERT")},
		&cli.StringFlag{Name: "tls-key", Usage: "the PEM private key of --tls-cert", Sources: cli.EnvVars("CONFAB_TLS_KEY")},
		&cli.StringSliceFlag{Name: "acme-domain", Usage: "serve HTTPS with certificates for these domains from an ACME CA (Let's Encrypt); use --addr :443; implies --secure-cookies", Sources: cli.EnvVars("CONFAB_ACME_DOMAIN")},
		&cli.StringFlag{Name: "acme-email", Usage: "contact address given to the ACME CA (expiry and problem notices)", Sources: cli.EnvVars("CONFAB_ACME_EMAIL")},
		&cli.StringFlag{Name: "acme-cache", Usage: "directory keeping the ACME account key and certificates (default: acme in --data)", Sources: cli.EnvVars("CONFAB_ACME_CACHE")},
		&cli.StringFlag{Name: "acme-http-addr", Value: ":80", Usage: `listen address answering ACME HTTP-01 challenges and redirecting HTTP to HTTPS ("" leaves only TLS-ALPN-01 on --addr, which must then be reached on port 443)`, Sources: cli.EnvVars("CONFAB_ACME_HTTP_ADDR")},
		&cli.StringFlag{Name: "acme-directory", Value: autocert.DefaultACMEDirectory, Usage: "ACME directory URL (for example Let's Encrypt's staging one while trying things out)", Sources: cli.EnvVars("CONFAB_ACME_DIRECTORY")},
	}
}

// serverTLS is how the main listener serves HTTPS, if it does.
type serverTLS struct {
	config *tls.Config
	// acmeHTTP, if set, answers ACME HTTP-01 challenges and redirects the
	// rest to HTTPS; it listens on acmeAddr.
	acmeHTTP http.Handler
	acmeAddr string
	mode     string // "files" or "acme"
}

// configureTLS returns the HTTPS setup the flags ask for, or nil for
// plain HTTP.
func configureTLS(c *cli.Command, logger *slog.Logger) (*serverTLS, error) {
	certFile, keyFile := c.String("tls-cert"), c.String("tls-key")
	domains := nonEmpty(c.StringSlice("acme-domain"))
	switch {
	case (certFile == "") != (keyFile == ""):
		return nil, errors.New("--tls-cert and --tls-key go together")
	case certFile != "" && len(domains) > 0:
		return nil, errors.New("--tls-cert and --acme-domain exclude each other: certificates come from files or from ACME")
	case certFile != "":
		files, err := newCertFiles(certFile, keyFile, certReloadInterval, logger)
		if err != nil {
			return nil, err
		}
		return &serverTLS{config: &tls.Config{GetCertificate: files.GetCertificate, MinVersion: tls.VersionTLS12}, mode: "files"}, nil
	case len(domains) > 0:
		cache := c.String("acme-cache")
		if cache == "" {
			cache = filepath.Join(c.String("data"), "acme")
		}
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			HostPolicy: autocert.HostWhitelist(domains...),
			Cache:      autocert.DirCache(cache),
			Email:      c.String("acme-email"),
			Client:     &acme.Client{DirectoryURL: c.String("acme-directory")},
		}
		st := &serverTLS{config: m.TLSConfig(), mode: "acme"}
		st.config.MinVersion = tls.VersionTLS12
		if addr := c.String("acme-http-addr"); addr != "" {
			st.acmeHTTP, st.acmeAddr = m.HTTPHandler(nil), addr
		}
		return st, nil
	}
	return nil, nil
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// certReloadInterval is how often, at most, the certificate files are
// checked for changes (on a handshake).
var certReloadInterval = 10 * time.Second

// certFiles serves a certificate from files and loads them again when
// they change, so that a renewed certificate (certbot, a secret mount) is
// picked up without a restart.
type certFiles struct {
	certFile, keyFile string
	every             time.Duration
	logger            *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // modification times and sizes of the loaded files
	checked time.Time
}

func newCertFiles(certFile, keyFile string, every time.Duration, logger *slog.Logger) (*certFiles, error) {
	f := &certFiles{certFile: certFile, keyFile: keyFile, every: every, logger: logger}
	stamp, err := f.stat()
	if err != nil {
		return nil, err
	}
	if err := f.load(stamp); err != nil {
		return nil, err
	}
	return f, nil
}

// stat describes the files' versions.
func (f *certFiles) stat() (string, error) {
	var parts []string
	for _, name := range []string{f.certFile, f.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return "", fmt.Errorf("tls: %w", err)
		}
		parts = append(parts, fmt.Sprintf("%d/%d", fi.ModTime().UnixNano(), fi.Size()))
	}
	return strings.Join(parts, " "), nil
}

func (f *certFiles) load(stamp string) error {
	cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load --tls-cert %s and --tls-key %s: %w", f.certFile, f.keyFile, err)
	}
	f.cert, f.stamp, f.checked = &cert, stamp, time.Now()
	return nil
}

// GetCertificate is the tls.Config hook.
func (f *certFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Since(f.checked) < f.every {
		return f.cert, nil
	}
	f.checked = time.Now()
	stamp, err := f.stat()
	if err == nil && stamp != f.stamp {
		if err = f.load(stamp); err == nil {
			f.logger.Info("TLS certificate reloaded", "cert", f.certFile)
		}
	}
	if err != nil {
		// Keep serving the certificate we have: the files may be in the
		// middle of being replaced.
		f.logger.Warn("cannot reload the TLS certificate; keeping the loaded one", "err", err)
	}
	return f.cert, nil
}
