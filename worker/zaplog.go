package main

import (
	"go.temporal.io/sdk/log"
	"go.uber.org/zap"
)

// zapLogger lets Temporal's SDK log through our zap logger, so worker and SDK
// lines share one structured stream.
type zapLogger struct{ z *zap.SugaredLogger }

func newTemporalLogger(z *zap.Logger) log.Logger {
	return zapLogger{z.WithOptions(zap.AddCallerSkip(1)).Sugar()}
}

func (l zapLogger) Debug(msg string, kv ...interface{}) { l.z.Debugw(msg, kv...) }
func (l zapLogger) Info(msg string, kv ...interface{})  { l.z.Infow(msg, kv...) }
func (l zapLogger) Warn(msg string, kv ...interface{})  { l.z.Warnw(msg, kv...) }
func (l zapLogger) Error(msg string, kv ...interface{}) { l.z.Errorw(msg, kv...) }
func (l zapLogger) With(kv ...interface{}) log.Logger   { return zapLogger{l.z.With(kv...)} }
