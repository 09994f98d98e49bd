package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is one scrape of a Prometheus text endpoint.
type Metrics map[string]*dto.MetricFamily

// Scrape fetches and parses url (e.g. the controller's /metrics).
func Scrape(ctx context.Context, url string) (Metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// Sum adds the values (counter, gauge, untyped, or a histogram's or
// summary's sample count) of every series of name whose labels include all
// of match.
func (m Metrics) Sum(name string, match map[string]string) float64 {
	fam, ok := m[name]
	if !ok {
		return 0
	}
	total := 0.0
	for _, s := range fam.GetMetric() {
		if !labelsMatch(s, match) {
			continue
		}
		switch {
		case s.Counter != nil:
			total += s.Counter.GetValue()
		case s.Gauge != nil:
			total += s.Gauge.GetValue()
		case s.Untyped != nil:
			total += s.Untyped.GetValue()
		case s.Histogram != nil:
			total += float64(s.Histogram.GetSampleCount())
		case s.Summary != nil:
			total += float64(s.Summary.GetSampleCount())
		}
	}
	return total
}

// Has reports whether the scrape holds a family called name.
func (m Metrics) Has(name string) bool { _, ok := m[name]; return ok }

func labelsMatch(s *dto.Metric, match map[string]string) bool {
	n := 0
	for _, l := range s.GetLabel() {
		if v, ok := match[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(match)
}

// HTTPStatus returns the status code of GET url (0 when it does not answer).
func HTTPStatus(ctx context.Context, url string) int {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
