// Package tmmv1 is the generated Go code of the TMM API v1 (tmm.proto);
// `make proto` regenerates it. Package tmmapi wraps it for callers.
package tmmv1
