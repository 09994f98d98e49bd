package cniserver

import (
	"errors"

	"github.com/containernetworking/cni/pkg/types"
)

// codedError attaches a CNI error code and a short message to an error; the
// wrapped error becomes the CNI error's details.
type codedError struct {
	code uint
	msg  string
	err  error
}

func (e *codedError) Error() string {
	if e.err == nil {
		return e.msg
	}
	return e.msg + ": " + e.err.Error()
}

func (e *codedError) Unwrap() error { return e.err }

func coded(code uint, msg string, err error) error {
	return &codedError{code: code, msg: msg, err: err}
}

// toCNIError turns any error from a command into the CNI error the runtime
// sees; uncoded errors are internal.
func toCNIError(err error) *types.Error {
	var ce *codedError
	if errors.As(err, &ce) {
		details := ""
		if ce.err != nil {
			details = ce.err.Error()
		}
		return types.NewError(ce.code, ce.msg, details)
	}
	var te *types.Error
	if errors.As(err, &te) {
		return te
	}
	return types.NewError(types.ErrInternal, "kvnet agent internal error", err.Error())
}
