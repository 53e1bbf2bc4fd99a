package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// EventResource is core/v1 Events: Flagger reports every step of a canary
// as an Event on the Canary (reason "Synced").
var EventResource = schema.GroupVersionResource{Version: "v1", Resource: "events"}

// CanaryEventSelector selects the Events whose object is a Canary.
const CanaryEventSelector = "involvedObject.kind=Canary"

// watchTimeout bounds one watch request on the server side; the informer
// then watches again from where it was (a cheap request, no relist).
const watchTimeout = 5 * time.Minute

// Watch describes one informer: the resource, the namespace ("" for all),
// an optional field selector and how often the informer hands every cached
// object to its handlers again (the resync; zero: never).
type Watch struct {
	Resource      schema.GroupVersionResource
	Namespace     string
	FieldSelector string
	Resync        time.Duration
}

// Informer is a shared informer of unstructured objects for w: it lists
// once, then watches (no polling), reconnecting on its own. WatchErr, when
// set, hears why a list or watch failed (an unreachable API server, a 403
// from RBAC), explained as an *upstream.Error, and nil once it works again.
// Run it with informer.RunWithContext(ctx).
func (c *Client) Informer(w Watch, watchErr func(error)) cache.SharedIndexInformer {
	res := c.watchDyn.Resource(w.Resource)
	var ri dynamic.ResourceInterface = res
	path := "/apis/" + w.Resource.GroupVersion().String() + "/" + w.Resource.Resource
	if w.Resource.Group == "" {
		path = "/api/" + w.Resource.Version + "/" + w.Resource.Resource
	}
	if w.Namespace != "" {
		ri = res.Namespace(w.Namespace)
		path = strings.Replace(path, "/"+w.Resource.Resource, "/namespaces/"+w.Namespace+"/"+w.Resource.Resource, 1)
	}
	report := func(err error) {
		if watchErr != nil {
			watchErr(err)
		}
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = w.FieldSelector
			ctx, cancel := context.WithTimeout(ctx, Timeout)
			defer cancel()
			l, err := ri.List(ctx, o)
			if err != nil {
				err = c.Explain(path, err)
				report(err)
				return nil, err
			}
			report(nil)
			return l, nil
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = w.FieldSelector
			secs := int64(watchTimeout / time.Second)
			o.TimeoutSeconds = &secs
			// client-go's reflector streams the initial list through a
			// watch (WatchListClient) and backs off on failure without
			// telling the error handler: report here.
			wi, err := ri.Watch(ctx, o)
			if err != nil {
				err = c.Explain(path, err)
				report(err)
				return nil, err
			}
			report(nil)
			return wi, nil
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &unstructured.Unstructured{}, w.Resync, cache.Indexers{})
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		report(c.Explain(path, err))
	})
	return inf
}

// watchClient is the dynamic client for watches: the same transport as the
// others without the client's overall request timeout (rest.Config's
// Timeout would end every watch stream after ten seconds); the server ends
// each watch after watchTimeout instead.
func watchClient(cfg *rest.Config, hc *http.Client) (*dynamic.DynamicClient, error) {
	wc := &http.Client{Transport: hc.Transport}
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 0
	dyn, err := dynamic.NewForConfigAndClient(cfg, wc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	return dyn, nil
}

// Forbidden reports whether err is the API server refusing the request
// (HTTP 403: the ServiceAccount's RBAC does not allow it).
func Forbidden(err error) bool {
	var ue *upstream.Error
	return errors.As(err, &ue) && ue.Status == http.StatusForbidden
}
