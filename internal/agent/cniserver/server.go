package cniserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/kvnet/kvnet/internal/agent/cniapi"
)

// maxRequestBytes bounds a request body (a network config is a few KiB).
const maxRequestBytes = 1 << 20

// Listen opens the CNI socket: the directory is made root-only (0700) before
// the socket exists, and the socket itself is 0600, so only root on the node
// (the container runtime) can reach the agent. A stale socket from an earlier
// run is replaced.
func Listen(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create socket directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("restrict socket directory %s: %w", dir, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("restrict socket %s: %w", path, err)
	}
	return l, nil
}

// Serve answers CNI requests on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, h *Handler) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+cniapi.HTTPPath, func(w http.ResponseWriter, r *http.Request) {
		serveCNI(w, r, h)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	err := srv.Serve(l)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serve CNI socket: %w", err)
}

func serveCNI(w http.ResponseWriter, r *http.Request, h *Handler) {
	var req cniapi.Request
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	var resp cniapi.Response
	if err != nil {
		resp.Error = types.NewError(types.ErrDecodingFailure, "decode CNI request", err.Error())
	} else {
		resp.Result, resp.Error = h.Handle(r.Context(), &req)
	}
	status := http.StatusOK
	if resp.Error != nil {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(&resp)
}
