package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

func TestDemoFlags(t *testing.T) {
	if _, err := parseDemoFlags([]string{"--model", "qwen2.5:3b"}, io.Discard); err == nil || !strings.Contains(err.Error(), "--ollama") {
		t.Errorf("--model without --ollama: err %v, want one naming --ollama", err)
	}
	if _, err := parseDemoFlags([]string{"extra"}, io.Discard); err == nil {
		t.Error("a stray argument was accepted")
	}
	f, err := parseDemoFlags([]string{"--ollama", "http://127.0.0.1:11434", "--data", "/tmp/x"}, io.Discard)
	if err != nil || f.ollama != "http://127.0.0.1:11434" || f.data != "/tmp/x" || f.listen != "127.0.0.1:3001" {
		t.Errorf("flags %+v, %v", f, err)
	}
}

// The preview host's address line becomes the demo's banner (the line the
// browser test and a person wait for); its other lines go to the log only.
func TestBannerWriter(t *testing.T) {
	var log, out bytes.Buffer
	ready := 0
	b := &bannerWriter{log: &log, out: &out, began: time.Now(), logPath: "/data/demo.log", world: demoWorld(), onReady: func() { ready++ }}
	for _, chunk := range []string{"datasource Prometheus (prometheus): x\nMeshWatch preview host — not Gra", "fana — http://127.0.0.1:40123/\n"} {
		if _, err := b.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if ready != 1 {
		t.Errorf("onReady called %d times, want once", ready)
	}
	if !strings.Contains(out.String(), "MeshWatch demo ready in ") || !strings.Contains(out.String(), "— open http://127.0.0.1:40123/") {
		t.Errorf("banner:\n%s", out.String())
	}
	if strings.Contains(out.String(), "datasource Prometheus") {
		t.Error("a detail line reached the terminal")
	}
	if !strings.Contains(log.String(), "datasource Prometheus (prometheus): x\n") || !strings.Contains(log.String(), "not Grafana — http://127.0.0.1:40123/") {
		t.Errorf("log:\n%s", log.String())
	}
	if !strings.Contains(out.String(), "Ollama") || !strings.Contains(out.String(), "/data/demo.log") {
		t.Errorf("the banner says nothing of the model or the log:\n%s", out.String())
	}
}

// The banner names what the scenarios run, read from them.
func TestDemoWorld(t *testing.T) {
	w := demoWorld()
	if w.where == "a workload" || w.canary == "a canary" || !strings.Contains(w.where, "/") {
		t.Errorf("demoWorld %+v: not read from the scenarios", w)
	}
}
