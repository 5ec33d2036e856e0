package api

import (
	"context"
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/nginx/nginx-plus-go-client/v2/client"
)

// These tests drive the API with NGINX's own Go client
// (github.com/nginx/nginx-plus-go-client/v2), over HTTP, as the Prometheus
// exporter and the ingress controller do.

func newClient(t *testing.T, e *env, opts ...client.Option) *client.NginxClient {
	t.Helper()
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	c, err := client.NewNginxClient(srv.URL+"/api", append([]client.Option{client.WithHTTPClient(srv.Client())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantAPIError checks that err carries the API error code.
func wantAPIError(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if !strings.Contains(err.Error(), "error.code="+code+";") {
		t.Fatalf("error %q, want code %s", err, code)
	}
}

// keyvalOps are the client's keyval methods for http or stream.
type keyvalOps struct {
	add       func(ctx context.Context, zone, key, val string) error
	get       func(ctx context.Context, zone string) (client.KeyValPairs, error)
	getAll    func(ctx context.Context) (client.KeyValPairsByZone, error)
	modify    func(ctx context.Context, zone, key, val string) error
	deleteKey func(ctx context.Context, zone, key string) error
	deleteAll func(ctx context.Context, zone string) error
}

func httpOps(c *client.NginxClient) keyvalOps {
	return keyvalOps{c.AddKeyValPair, c.GetKeyValPairs, c.GetAllKeyValPairs, c.ModifyKeyValPair,
		c.DeleteKeyValuePair, c.DeleteKeyValPairs}
}

func streamOps(c *client.NginxClient) keyvalOps {
	return keyvalOps{c.AddStreamKeyValPair, c.GetStreamKeyValPairs, c.GetAllStreamKeyValPairs,
		c.ModifyStreamKeyValPair, c.DeleteStreamKeyValuePair, c.DeleteStreamKeyValPairs}
}

// TestClientKeyvals follows the client's own keyval test: add, get,
// modify, delete one key, delete all, and the errors in between.
func TestClientKeyvals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		zone   string
		others client.KeyValPairsByZone // the other zones in GetAll
		ops    func(*client.NginxClient) keyvalOps
	}{
		{"http", "one", client.KeyValPairsByZone{"timed": {}, "ips": {}}, httpOps},
		{"stream", "skv", client.KeyValPairsByZone{}, streamOps},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ops := tc.ops(newClient(t, e))
			ctx := context.Background()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			wantPairs := func(want client.KeyValPairs) {
				t.Helper()
				got, err := ops.get(ctx, tc.zone)
				must(err)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("pairs %v, want %v", got, want)
				}
			}

			must(ops.add(ctx, tc.zone, "key1", "val1"))
			wantPairs(client.KeyValPairs{"key1": "val1"})
			wantAPIError(t, ops.add(ctx, tc.zone, "key1", "val1"), "KeyvalKeyExists")

			must(ops.modify(ctx, tc.zone, "key1", "val2"))
			wantPairs(client.KeyValPairs{"key1": "val2"})
			wantAPIError(t, ops.modify(ctx, tc.zone, "nokey", "val"), "KeyvalKeyNotFound")

			must(ops.add(ctx, tc.zone, "key2", "val2"))
			all, err := ops.getAll(ctx)
			must(err)
			want := client.KeyValPairsByZone{tc.zone: {"key1": "val2", "key2": "val2"}}
			for z, p := range tc.others {
				want[z] = p
			}
			if !reflect.DeepEqual(all, want) {
				t.Fatalf("all zones %v, want %v", all, want)
			}

			must(ops.deleteKey(ctx, tc.zone, "key1"))
			wantPairs(client.KeyValPairs{"key2": "val2"})
			wantAPIError(t, ops.deleteKey(ctx, tc.zone, "key1"), "KeyvalKeyNotFound")

			must(ops.deleteAll(ctx, tc.zone))
			wantPairs(client.KeyValPairs{})

			_, err = ops.get(ctx, "nosuchzone")
			wantAPIError(t, err, "KeyvalNotFound")
			wantAPIError(t, ops.add(ctx, "nosuchzone", "k", "v"), "KeyvalNotFound")
			wantAPIError(t, ops.modify(ctx, "nosuchzone", "k", "v"), "KeyvalNotFound")
			wantAPIError(t, ops.deleteAll(ctx, "nosuchzone"), "KeyvalNotFound")
			if err := ops.add(ctx, "", "k", "v"); !errors.Is(err, client.ErrParameterRequired) {
				t.Fatalf("empty zone: %v", err)
			}
		})
	}
}

func TestClientReadOnly(t *testing.T) {
	e := newEnv(t, readOnly)
	c := newClient(t, e)
	ctx := context.Background()
	wantAPIError(t, c.AddKeyValPair(ctx, "one", "k", "v"), "MethodDisabled")
	wantAPIError(t, c.ModifyStreamKeyValPair(ctx, "skv", "k", "v"), "MethodDisabled")
	wantAPIError(t, c.DeleteKeyValPairs(ctx, "one"), "MethodDisabled")
	if _, err := c.GetKeyValPairs(ctx, "one"); err != nil {
		t.Fatal(err)
	}
}

func TestClientChecksVersions(t *testing.T) {
	e := newEnv(t)
	c := newClient(t, e, client.WithCheckAPI())
	v, err := c.GetMaxAPIVersion(context.Background())
	if err != nil || v != 9 {
		t.Fatalf("max API version %d, %v", v, err)
	}
	if _, err := client.NewNginxClient(e.apiURL(t), client.WithAPIVersion(8), client.WithCheckAPI()); err != nil {
		t.Fatalf("version 8: %v", err)
	}
}

// apiURL serves e and returns the API's URL.
func (e *env) apiURL(t *testing.T) string {
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	return srv.URL + "/api"
}

func TestClientGetStats(t *testing.T) {
	e := newEnv(t)
	feedCounters(e)
	c := newClient(t, e)
	s, err := c.GetStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.NginxInfo.Version != "1.29.8" || s.NginxInfo.Build != "zonesync-0.1.0" || s.NginxInfo.Generation != 6 ||
		s.NginxInfo.ProcessID != 4242 || s.NginxInfo.Address != "127.0.0.1" ||
		s.NginxInfo.LoadTimestamp != "2026-05-13T09:00:00.467Z" {
		t.Errorf("nginx info %+v", s.NginxInfo)
	}
	if s.Connections.Accepted != 4968119 || s.HTTPRequests.Total != 10624511 || s.Processes.Respawned != 1 {
		t.Errorf("connections %+v requests %+v processes %+v", s.Connections, s.HTTPRequests, s.Processes)
	}
	if s.SSL.Handshakes != 79572 || s.SSL.VerifyFailures.ExpiredCert != 2 {
		t.Errorf("ssl %+v", s.SSL)
	}
	if z := s.ServerZones["site1"]; z.Requests != 6 || z.Responses.Responses2xx != 2 ||
		z.Responses.Codes.HTTPServiceUnavailable != 1 || z.Responses.Total != 5 {
		t.Errorf("server zone %+v", z)
	}
	if z := s.LocationZones["loc1"]; z.Responses.Codes.HTTPNoContent != 1 {
		t.Errorf("location zone %+v", z)
	}
	if z := s.StreamServerZones["tcp1"]; z.Connections != 3 || z.Sessions.Sessions5xx != 1 {
		t.Errorf("stream server zone %+v", z)
	}
	if s.HTTPLimitRequests["perip"].Delayed != 3 || s.HTTPLimitConnections["addr"].Passed != 15 ||
		s.StreamLimitConnections["saddr"].Rejected != 2 {
		t.Errorf("limits %+v %+v %+v", s.HTTPLimitRequests, s.HTTPLimitConnections, s.StreamLimitConnections)
	}
	if s.Resolvers["resolver_zone1"].Requests.Name != 25460 {
		t.Errorf("resolvers %+v", s.Resolvers)
	}
	for _, name := range []string{"one", "timed", "ips", "skv", "perip"} {
		if _, found := s.Slabs[name]; !found {
			t.Errorf("no slab %s in %v", name, s.Slabs)
		}
	}
	if len(s.Workers) != 1 || s.Workers[0].ProcessID != 4242 || s.Workers[0].Connections.Active != 5 ||
		s.Workers[0].HTTP.HTTPRequests.Current != 4 {
		t.Errorf("workers %+v", s.Workers)
	}
	zs := s.StreamZoneSync
	if zs == nil {
		t.Fatal("no zone_sync status")
	}
	if zs.Status.NodesOnline != 15 || zs.Status.BytesOut != 1402765472 || zs.Zones["skv"].RecordsTotal != 3 ||
		zs.Zones["sticky_a"].RecordsPending != 2 {
		t.Errorf("zone_sync %+v", zs)
	}
	if len(s.Upstreams) != 0 || len(s.StreamUpstreams) != 0 || len(s.Caches) != 0 {
		t.Errorf("upstreams %v %v caches %v", s.Upstreams, s.StreamUpstreams, s.Caches)
	}
}

func TestClientZoneSyncNotConfigured(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []envOption
	}{
		{"stream block without zone_sync", []envOption{noZoneSync}},
		{"zone_sync func returning nil", []envOption{nilZoneSync}},
		{"no stream block", []envOption{noZoneSync, noStream, noStreamZones}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, newEnv(t, tc.opts...))
			zs, err := c.GetStreamZoneSync(context.Background())
			if err != nil || zs != nil {
				t.Fatalf("GetStreamZoneSync: %+v, %v; want nil, nil", zs, err)
			}
			s, err := c.GetStats(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if s.StreamZoneSync != nil {
				t.Fatalf("zone_sync %+v", s.StreamZoneSync)
			}
		})
	}
}

func TestClientZoneSync(t *testing.T) {
	e := newEnv(t)
	c := newClient(t, e)
	zs, err := c.GetStreamZoneSync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &client.StreamZoneSync{
		Zones: map[string]client.SyncZone{"skv": {RecordsPending: 0, RecordsTotal: 3},
			"sticky_a": {RecordsPending: 2, RecordsTotal: 7}},
		Status: client.StreamZoneSyncStatus{BytesIn: 1364923761, MsgsIn: 337236, MsgsOut: 346717,
			BytesOut: 1402765472, NodesOnline: 15},
	}
	if !reflect.DeepEqual(zs, want) {
		t.Fatalf("zone_sync %+v, want %+v", zs, want)
	}
}

func TestClientLimitReqs(t *testing.T) {
	e := newEnv(t)
	e.counters.LimitReq("perip").Rejected.Add(9)
	c := newClient(t, e)
	got, err := c.GetHTTPLimitReqs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := (client.HTTPLimitRequests{"perip": {Rejected: 9}}); !reflect.DeepEqual(*got, want) {
		t.Fatalf("limit_reqs %+v, want %+v", *got, want)
	}
}
