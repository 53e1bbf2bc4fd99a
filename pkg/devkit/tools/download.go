package tools

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Downloader opens url for reading; size is the length when known (else -1).
type Downloader func(ctx context.Context, url string) (body io.ReadCloser, size int64, err error)

// HTTPDownloader is a Downloader over client. When nil, a client that
// honours the proxy environment and gives up on a host it cannot reach
// within 15 s or that sends no answer within 30 s (a network that drops
// packets must fall back to the build, not hang), with no limit on the
// download itself.
func HTTPDownloader(client *http.Client) Downloader {
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 15 * time.Second}).DialContext,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}}
	}
	return func(ctx context.Context, url string) (io.ReadCloser, int64, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			_ = resp.Body.Close()
			return nil, 0, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return resp.Body, resp.ContentLength, nil
	}
}

// maxArchive bounds a download (the largest, kube-apiserver, is ~100 MB).
const maxArchive = 512 << 20

// install downloads a, checks its SHA-256 against the pin, and puts t's
// binaries into Dir/bin (each written beside and renamed into place, so a
// broken download never leaves a half binary), then the version stamp.
func (g *Getter) install(ctx context.Context, t Tool, a Archive) error {
	bin := filepath.Join(g.Dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(g.Dir, ".download-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()); _ = tmp.Close() }()

	sum, err := g.fetch(ctx, t, a, tmp)
	if err != nil {
		return err
	}
	if !strings.EqualFold(sum, a.SHA256) {
		return fmt.Errorf("checksum mismatch for %s: got sha256 %s, pinned %s (nothing installed)", a.URL, sum, a.SHA256)
	}
	members := a.Members
	if a.Format == "binary" {
		members = map[string]string{t.Bins[0]: ""}
	}
	for _, b := range t.Bins {
		if _, ok := members[b]; !ok {
			return fmt.Errorf("%s: the release table names no archive member for %s", t.Name, b)
		}
	}
	staged := map[string]string{}
	defer func() {
		for _, p := range staged {
			_ = os.Remove(p)
		}
	}()
	for b, member := range members {
		p := filepath.Join(bin, "."+b+".new")
		if err := extract(tmp.Name(), a.Format, member, p); err != nil {
			return fmt.Errorf("%s: %w", a.URL, err)
		}
		staged[b] = p
	}
	for b, p := range staged {
		if err := os.Rename(p, filepath.Join(bin, b)); err != nil {
			return err
		}
		delete(staged, b)
	}
	if t.StampName != "" {
		if err := os.WriteFile(filepath.Join(bin, "."+t.StampName+".version"), []byte(t.Stamp+"\n"), 0o644); err != nil {
			return err
		}
	}
	g.printf("  %-15s %s: installed from %s (sha256 verified)\n", t.Name, t.Version, a.URL)
	return nil
}

// fetch copies the download into w, printing progress, and returns its
// SHA-256.
func (g *Getter) fetch(ctx context.Context, t Tool, a Archive, w io.Writer) (string, error) {
	dl := g.Download
	if dl == nil {
		dl = HTTPDownloader(nil)
	}
	body, size, err := dl(ctx, a.URL)
	if err != nil {
		return "", err
	}
	defer body.Close()
	if size <= 0 {
		size = a.Size
	}
	g.printf("  %-15s %s: downloading %s (%s)\n", t.Name, t.Version, a.URL, megabytes(size))
	h := sha256.New()
	p := &progress{g: g, name: t.Name, total: size, start: g.now(), last: g.now()}
	n, err := io.Copy(io.MultiWriter(w, h, p), io.LimitReader(body, maxArchive+1))
	if err != nil {
		return "", err
	}
	if n > maxArchive {
		return "", fmt.Errorf("%s is larger than %d MB", a.URL, maxArchive>>20)
	}
	p.done()
	return hex.EncodeToString(h.Sum(nil)), nil
}

// progress prints a download's bytes, rate and remaining time every few
// seconds.
type progress struct {
	g          *Getter
	name       string
	total, got int64
	start      time.Time
	last       time.Time
}

func (p *progress) Write(b []byte) (int, error) {
	p.got += int64(len(b))
	if now := p.g.now(); now.Sub(p.last) >= 3*time.Second {
		p.last = now
		p.g.printf("  %-15s %s\n", p.name, p.line(now))
	}
	return len(b), nil
}

func (p *progress) line(now time.Time) string {
	el := now.Sub(p.start).Seconds()
	rate := float64(p.got) / max(el, 0.001)
	s := fmt.Sprintf("%s", megabytes(p.got))
	if p.total > 0 {
		s += fmt.Sprintf(" of %s (%d%%)", megabytes(p.total), p.got*100/p.total)
		if rate > 0 && p.got < p.total {
			left := time.Duration(float64(p.total-p.got)/rate) * time.Second
			s += fmt.Sprintf(", about %s left", left.Round(time.Second))
		}
	}
	return s + fmt.Sprintf(" at %.1f MB/s", rate/1e6)
}

func (p *progress) done() {
	p.g.printf("  %-15s %s in %s\n", p.name, megabytes(p.got), p.g.now().Sub(p.start).Round(100*time.Millisecond))
}

// extract writes the archive member (the whole file for "binary") to dst,
// mode 0755.
func extract(archive, format, member, dst string) error {
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	err = copyMember(archive, format, member, out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(dst)
	}
	return err
}

func copyMember(archive, format, member string, out io.Writer) error {
	switch format {
	case "binary":
		f, err := os.Open(archive)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(out, f)
		return err
	case "tar.gz":
		f, err := os.Open(archive)
		if err != nil {
			return err
		}
		defer f.Close()
		gz, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		tr := tar.NewReader(gz)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("no %s in the archive", member)
			}
			if err != nil {
				return err
			}
			if path.Clean(h.Name) == member && h.Typeflag == tar.TypeReg {
				_, err = io.Copy(out, io.LimitReader(tr, maxArchive))
				return err
			}
		}
	case "zip":
		zr, err := zip.OpenReader(archive)
		if err != nil {
			return err
		}
		defer zr.Close()
		for _, f := range zr.File {
			if path.Clean(f.Name) != member {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(out, io.LimitReader(rc, maxArchive))
			return err
		}
		return fmt.Errorf("no %s in the archive", member)
	}
	return fmt.Errorf("unknown archive format %q", format)
}
