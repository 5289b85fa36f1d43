package view

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/starter/pkg/spec"
	"github.com/cloudsync/cloudsync/workflows"
)

// Failure is what a failed run tells.
type Failure struct {
	Message    string
	Result     workflows.OnboardResult
	HasResult  bool
	Validation string
}

func DescribeFailure(err error) Failure {
	var f Failure
	f.Message = err.Error()
	if of, ok := workflows.DecodeOnboardFailure(err); ok {
		f.Message = of.Message
		if of.Result != nil {
			f.Result, f.HasResult = *of.Result, true
		}
		if of.Validation != nil {
			f.Validation = spec.ValidationLines(of.Validation)
		}
		return f
	}
	if how := EndedHow(err, "workflow"); how != "" {
		f.Message = how + "; a re-run picks up what exists"
	}
	return f
}

// EndedHow says how a run ended that did not fail by itself: terminated,
// timed out or canceled ("" otherwise).
func EndedHow(err error, what string) string {
	var (
		term     *temporal.TerminatedError
		timeout  *temporal.TimeoutError
		canceled *temporal.CanceledError
	)
	switch {
	case errors.As(err, &term):
		return "the " + what + " was terminated (the Web UI shows by whom and why)"
	case errors.As(err, &timeout):
		return "the " + what + " timed out (" + timeout.TimeoutType().String() + ")"
	case errors.As(err, &canceled):
		return "the " + what + " was canceled"
	}
	return ""
}
