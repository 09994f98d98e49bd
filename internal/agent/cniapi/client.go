package cniapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/containernetworking/cni/pkg/types"
)

// Call forwards req to the agent listening on socket and returns the result
// bytes, or a *types.Error: the agent's own, or one saying the agent cannot
// be reached (ErrTryAgainLater; ErrPluginNotAvailable for STATUS).
func Call(ctx context.Context, socket string, req *Request) (json.RawMessage, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, types.NewError(types.ErrInternal, "encode request for the kvnet agent", err.Error())
	}
	httpClient := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://kvnet-agent"+HTTPPath, bytes.NewReader(body))
	if err != nil {
		return nil, types.NewError(types.ErrInternal, "build request for the kvnet agent", err.Error())
	}
	httpReq.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(httpReq)
	if err != nil {
		code := types.ErrTryAgainLater
		if req.Command == "STATUS" {
			code = types.ErrPluginNotAvailable
		}
		return nil, types.NewError(code, "kvnet agent unreachable at "+socket, err.Error())
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, types.NewError(types.ErrIOFailure, "read the kvnet agent's response", err.Error())
	}
	var out Response
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure,
			fmt.Sprintf("decode the kvnet agent's response (HTTP %d)", resp.StatusCode), string(data))
	}
	if out.Error != nil {
		return nil, out.Error
	}
	if resp.StatusCode != http.StatusOK {
		return nil, types.NewError(types.ErrInternal, fmt.Sprintf("kvnet agent answered HTTP %d", resp.StatusCode), string(data))
	}
	return out.Result, nil
}
