// Package spec reads tenant specs and fleets of them from the onboard and
// plan flags, YAML files and CSV files. Every problem of a file is reported
// at once, located by file:line (see Problems); nothing here talks to
// Temporal, so a bad file costs nothing but the read.
package spec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/workflows"
)

// MaxSpecFileSize bounds a --file holding one tenant spec (a few hundred
// bytes); MaxFleetFileSize one holding a fleet (10,000 tenants fit).
const (
	MaxSpecFileSize  = 64 << 10
	MaxFleetFileSize = 16 << 20
)

// Flags are the onboard and plan flags that describe a tenant.
type Flags struct {
	File              string
	TenantID          string
	Domain            string
	DisplayName       string
	PasswordHashSync  bool
	ExchangeWriteback bool
	Notify            bool
	Recipients        []string
	DeleteThreshold   int
	NoDeleteThreshold bool
	NoStart           bool
}

// FlagNames are the flags that --file replaces.
var FlagNames = []string{
	"tenant-id", "domain", "display-name", "password-hash-sync", "exchange-writeback",
	"notify", "recipient", "delete-threshold", "no-delete-threshold", "no-start",
}

// Register adds the flags to fs.
func (f *Flags) Register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.File, "file", "f", "", "read the tenant spec from this YAML file instead of the flags below")
	fs.StringVar(&f.TenantID, "tenant-id", "", "directory (tenant) id, a GUID")
	fs.StringVar(&f.Domain, "domain", "", "on-premises Active Directory DNS domain, e.g. contoso.com")
	fs.StringVar(&f.DisplayName, "display-name", "", "display name of the sync configuration (default: the domain)")
	fs.BoolVar(&f.PasswordHashSync, "password-hash-sync", false, "enable password hash sync")
	fs.BoolVar(&f.ExchangeWriteback, "exchange-writeback", false, "enable Exchange hybrid writeback (needs mailNickname in the AD schema)")
	fs.BoolVar(&f.Notify, "notify", false, "enable sync notification emails (needs --recipient)")
	// StringArray, not StringSlice: a comma inside a value must reach validation
	// as is, not be split silently.
	fs.StringArrayVar(&f.Recipients, "recipient", nil, "notification email address (repeat for several)")
	fs.IntVar(&f.DeleteThreshold, "delete-threshold", workflows.DefaultDeleteThreshold, "accidental-delete threshold, 1-100000")
	fs.BoolVar(&f.NoDeleteThreshold, "no-delete-threshold", false, "disable accidental-delete protection")
	fs.BoolVar(&f.NoStart, "no-start", false, "create and configure the sync jobs but leave them stopped")
}

// Build makes the tenant spec from the flags (changed names the flags given
// on the command line) or from --file, read with readFile, which may hold a
// fleet: a YAML list of tenant specs, a YAML document "tenants: [...]", or a
// CSV file (*.csv). It returns either the one spec or the fleet. A spec from
// a file comes back validated (its problems located by line); one from flags
// and a fleet do not: call Validate on them.
func Build(f Flags, changed func(name string) bool, readFile func(path string) ([]byte, error)) (workflows.TenantSpec, *Fleet, error) {
	if changed("file") {
		return fromFile(f, changed, readFile)
	}
	s := workflows.TenantSpec{
		TenantID:                f.TenantID,
		Domain:                  f.Domain,
		DisplayName:             f.DisplayName,
		PasswordHashSync:        f.PasswordHashSync,
		ExchangeHybridWriteback: f.ExchangeWriteback,
		Notifications:           workflows.Notifications{Enabled: f.Notify, Recipients: f.Recipients},
	}
	if changed("delete-threshold") {
		v := f.DeleteThreshold
		s.DeleteThreshold.Value = &v
	}
	if f.NoDeleteThreshold {
		off := false
		s.DeleteThreshold.Enabled = &off
	}
	if f.NoStart {
		start := false
		s.StartJobs = &start
	}
	return s, nil, nil
}

func fromFile(f Flags, changed func(name string) bool, readFile func(path string) ([]byte, error)) (workflows.TenantSpec, *Fleet, error) {
	var mixed []string
	for _, n := range FlagNames {
		if changed(n) {
			mixed = append(mixed, "--"+n)
		}
	}
	if len(mixed) > 0 {
		return workflows.TenantSpec{}, nil, fmt.Errorf("--file cannot be combined with %s: put every setting in the file", strings.Join(mixed, ", "))
	}
	if strings.TrimSpace(f.File) == "" {
		return workflows.TenantSpec{}, nil, errors.New("--file: give the path of a YAML tenant spec")
	}
	data, err := readFile(f.File)
	if err != nil {
		return workflows.TenantSpec{}, nil, fmt.Errorf("--file: %w", err)
	}
	if IsCSV(f.File) {
		fleet, err := ParseFleetCSV(f.File, data)
		return workflows.TenantSpec{}, fleet, err
	}
	fleet, err := ParseFleetYAML(f.File, data)
	if err != nil || fleet != nil {
		return workflows.TenantSpec{}, fleet, err
	}
	if len(data) > MaxSpecFileSize {
		return workflows.TenantSpec{}, nil, fmt.Errorf("--file: %s is larger than %d KiB: a tenant spec is a few lines", f.File, MaxSpecFileSize>>10)
	}
	s, err := ParseYAML(f.File, data)
	if err != nil {
		return s, nil, err
	}
	return s, nil, checkYAML(f.File, data, s)
}

// ReadFile reads a spec or fleet file, refusing anything that is not a
// regular file of a sensible size.
func ReadFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a YAML file", path)
	}
	data, err := io.ReadAll(io.LimitReader(fh, MaxFleetFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFleetFileSize {
		return nil, fmt.Errorf("%s is larger than %d MiB: split the fleet", path, MaxFleetFileSize>>20)
	}
	return data, nil
}

// ValidationLines prints a spec's field errors one per line (a spec given by
// flags: no file to point into).
func ValidationLines(err error) string {
	var ve *workflows.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid tenant spec (%d %s):", len(ve.Errors), text.Plural(len(ve.Errors), "problem", "problems"))
	for _, fe := range ve.Errors {
		fmt.Fprintf(&b, "\n  %s: %s", fe.Field, fe.Problem)
	}
	return b.String()
}
