package localenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// FreeAddr returns "127.0.0.1:PORT" with a port from FreePort.
func FreeAddr() (string, error) {
	port, err := FreePort()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", port), nil
}

// readyPoll is how often WaitHTTP asks.
const readyPoll = 100 * time.Millisecond

// WaitHTTP polls url until it answers 200, the process exits (an error
// with the end of its log), or ctx or timeout ends.
func WaitHTTP(ctx context.Context, p *Process, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	ticker := time.NewTicker(readyPoll)
	defer ticker.Stop()
	for {
		if httpOK(ctx, client, url) {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited before it was ready (%v)%s", p.Name(), p.Wait(), logTail(p.LogPath()))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s: %w%s", p.Name(), url, ctx.Err(), logTail(p.LogPath()))
		case <-ticker.C:
		}
	}
}

func httpOK(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// logTailLines is how much of a log an error message quotes.
const logTailLines = 15

// logTail returns the last lines of a log file, formatted for an error
// message, or "" if there is none.
func logTail(path string) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > logTailLines {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return "\nlast lines of " + path + ":\n  " + strings.Join(lines, "\n  ")
}
