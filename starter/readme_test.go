package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/plan"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
)

// readmeCommand is one command of README.md's shell blocks.
type readmeCommand struct {
	line int
	args []string // after "bin/starter" or "make"
}

// readmeCommands extracts the `bin/starter …` and `make …` commands of the
// README's ```sh blocks (continuation lines joined, comments dropped, "&&"
// chains split) and the targets of inline `make …` mentions.
func readmeCommands(t *testing.T) (starter, makes []readmeCommand) {
	t.Helper()
	f, err := os.Open("../README.md")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	inSh, n, start := false, 0, 0
	var pending string
	inlineMake := regexp.MustCompile("`make ([a-z][a-z-]*)`")
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			inSh = !inSh && (trimmed == "```sh" || trimmed == "```bash")
			continue
		case !inSh:
			for _, m := range inlineMake.FindAllStringSubmatch(line, -1) {
				makes = append(makes, readmeCommand{line: n, args: []string{m[1]}})
			}
			continue
		}
		if pending == "" {
			start = n
		}
		if strings.HasSuffix(trimmed, "\\") {
			pending += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		full := pending + trimmed
		pending = ""
		for _, part := range strings.Split(full, "&&") {
			words := shellWords(part)
			switch {
			case len(words) > 0 && words[0] == "bin/starter":
				starter = append(starter, readmeCommand{line: start, args: words[1:]})
			case len(words) > 0 && words[0] == "make":
				makes = append(makes, readmeCommand{line: start, args: words[1:]})
			}
		}
	}
	require.NoError(t, sc.Err())
	return starter, makes
}

// shellWords splits a command line as sh would for these examples: quotes
// group words, an unquoted # starts a comment.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '#' && !inWord:
			return words
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// The README's commands work as written: every `bin/starter …` parses with the
// real command tree; those without placeholders pass validation (with
// Temporal unreachable they stop at the connection, exit 5, never at exit 2,
// bad input: a file path that does not exist, an approver that is not an
// address); every `make …` target exists. So the README cannot drift again.
func TestReadmeCommandsWorkAsWritten(t *testing.T) {
	isolateEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	starter, makes := readmeCommands(t)
	require.GreaterOrEqual(t, len(starter), 8, "the README's starter examples were not found")
	require.GreaterOrEqual(t, len(makes), 4, "the README's make examples were not found")
	wd, err := os.Getwd()
	require.NoError(t, err)
	require.NoError(t, os.Chdir(".."), "the README's paths are relative to the repository root")
	t.Cleanup(func() { _ = os.Chdir(wd) })

	for _, c := range starter {
		name := "README.md:" + strings.Join(append([]string{strconv.Itoa(c.line)}, c.args...), " ")
		t.Run(name, func(t *testing.T) {
			a := newApp(&strings.Builder{}, &strings.Builder{})
			root := a.rootCmd()
			cmd, rest, err := root.Find(c.args)
			require.NoError(t, err)
			require.NotEqual(t, root, cmd, "no such command")
			require.NoError(t, cmd.ParseFlags(rest), "flags as written")
			if strings.Contains(strings.Join(c.args, " "), "<") {
				return // placeholders: parsing is what can be checked
			}
			code, stdout, stderr := runCLI(t, append(c.args, "--connect-timeout", "100ms")...)
			if cmd.Name() == "plan" {
				// plan's exit codes are terraform's: every error is 1.
				assert.Equal(t, plan.ExitError, code, "%s%s", stdout, stderr)
				assert.Contains(t, stderr, "cannot reach Temporal", "it should stop at the connection only")
				return
			}
			assert.NotEqual(t, cmdutil.ExitUsage, code, "bad input as written:\n%s%s", stdout, stderr)
			assert.Equal(t, cmdutil.ExitUnreachable, code, "it should stop at the connection only:\n%s%s", stdout, stderr)
		})
	}
	for _, c := range makes {
		require.NotEmpty(t, c.args, "README.md:%d: make without a target", c.line)
		t.Run("README.md:"+strconv.Itoa(c.line)+" make "+c.args[0], func(t *testing.T) {
			out, err := exec.Command("make", "-n", "-f", filepath.Join(".", "Makefile"), c.args[0]).CombinedOutput()
			require.NoError(t, err, "make -n %s: %s", c.args[0], out)
		})
	}
}

// The same for every command's --help examples.
func TestHelpExamplesWorkAsWritten(t *testing.T) {
	isolateEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	wd, err := os.Getwd()
	require.NoError(t, err)
	require.NoError(t, os.Chdir(".."))
	t.Cleanup(func() { _ = os.Chdir(wd) })
	a := newApp(&strings.Builder{}, &strings.Builder{})
	checked := 0
	for _, cmd := range a.rootCmd().Commands() {
		var pending string
		for _, line := range strings.Split(cmd.Example, "\n") {
			trimmed := strings.TrimSpace(line)
			if strings.HasSuffix(trimmed, "\\") {
				pending += strings.TrimSuffix(trimmed, "\\") + " "
				continue
			}
			full := pending + trimmed
			pending = ""
			words := shellWords(full)
			if len(words) < 2 || words[0] != "starter" {
				continue
			}
			checked++
			t.Run(cmd.Name()+": "+strings.Join(words[1:], " "), func(t *testing.T) {
				code, stdout, stderr := runCLI(t, append(words[1:], "--connect-timeout", "100ms")...)
				if strings.Contains(full, "<") {
					return
				}
				if cmd.Name() == "plan" {
					assert.Equal(t, plan.ExitError, code, "%s%s", stdout, stderr)
					assert.Contains(t, stderr, "cannot reach Temporal", "it should stop at the connection only")
					return
				}
				assert.Equal(t, cmdutil.ExitUnreachable, code, "it should stop at the connection only:\n%s%s", stdout, stderr)
			})
		}
	}
	require.GreaterOrEqual(t, checked, 8)
}
