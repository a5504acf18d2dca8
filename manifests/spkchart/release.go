package spkchart

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// DefaultTimeout bounds waiting for CRDs and, with Options.Wait, for the
// workloads.
const DefaultTimeout = 5 * time.Minute

// Options say which release a Client manages and how.
type Options struct {
	// Namespace is the release namespace, created when missing
	// (DefaultNamespace when empty).
	Namespace string
	// ReleaseName is DefaultReleaseName when empty.
	ReleaseName string
	// Wait makes Apply wait until the workloads are ready and Uninstall
	// until they are gone; that needs nodes that run pods.
	Wait bool
	// Timeout bounds every wait (DefaultTimeout when 0).
	Timeout time.Duration
	// Log gets progress at Info and Helm's own messages at Debug; nil is
	// slog.Default().
	Log *slog.Logger
}

// Client installs, upgrades and uninstalls one release of the SPK chart in
// one cluster through the Helm SDK. Helm keeps the release in Secrets of the
// release namespace, as the helm CLI does, so helm can inspect it too.
type Client struct {
	config *rest.Config
	opts   Options
	log    *slog.Logger
}

// New manages the release in the cluster config points at.
func New(config *rest.Config, opts Options) (*Client, error) {
	if config == nil {
		return nil, errors.New("SPK chart client: no REST config")
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.ReleaseName == "" {
		opts.ReleaseName = DefaultReleaseName
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("release", opts.ReleaseName, "namespace", opts.Namespace)
	return &Client{config: rest.CopyConfig(config), opts: opts, log: log}, nil
}

// NewFromKubeconfig is New with the current context of a kubeconfig file.
func NewFromKubeconfig(path string, opts Options) (*Client, error) {
	config, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("SPK chart client: kubeconfig %s: %w", path, err)
	}
	return New(config, opts)
}

// actionConfig is a fresh Helm configuration (and so a fresh discovery
// cache) for one operation.
func (c *Client) actionConfig() (*action.Configuration, error) {
	cfg := new(action.Configuration)
	helmLog := func(format string, args ...any) { c.log.Debug("helm: " + fmt.Sprintf(format, args...)) }
	if err := cfg.Init(newRESTGetter(c.config, c.opts.Namespace), c.opts.Namespace, "secret", helmLog); err != nil {
		return nil, fmt.Errorf("helm configuration: %w", err)
	}
	return cfg, nil
}

// Release is the release's latest revision, or nil when there is none.
func (c *Client) Release(ctx context.Context) (*release.Release, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg, err := c.actionConfig()
	if err != nil {
		return nil, err
	}
	return c.last(cfg)
}

func (c *Client) last(cfg *action.Configuration) (*release.Release, error) {
	last, err := cfg.Releases.Last(c.opts.ReleaseName)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading release %s: %w", c.opts.ReleaseName, err)
	}
	return last, nil
}

// Apply makes the cluster run the chart with values: it checks them
// (schema and spk.ParseValues), creates or updates the CRDs and waits until
// they are established, makes the TMM API's certificates when they are not
// good (ensureAPITLS), then installs the release when there is none and
// upgrades it otherwise. values are the whole truth: keys left out take
// the chart's defaults, not those of the previous revision. A release an
// interrupted run left pending is marked failed and upgraded, so running
// Apply again converges (one lab at a time: nothing else may be changing
// the release then).
func (c *Client) Apply(ctx context.Context, values map[string]any) (*release.Release, error) {
	ch, err := Load()
	if err != nil {
		return nil, err
	}
	// Refuse bad values before anything in the cluster changes.
	if _, err := renderChart(ch, c.opts.ReleaseName, c.opts.Namespace, values); err != nil {
		return nil, err
	}
	vals, err := copyValues(values)
	if err != nil {
		return nil, err
	}
	if err := c.applyCRDs(ctx, ch); err != nil {
		return nil, err
	}
	fp, err := c.ensureAPITLS(ctx)
	if err != nil {
		return nil, err
	}
	// The pods roll when the certificates they mounted were replaced.
	tmm, _ := vals["tmm"].(map[string]any)
	if tmm == nil {
		tmm = map[string]any{}
		vals["tmm"] = tmm
	}
	tmm["apiTLSFingerprint"] = fp
	cfg, err := c.actionConfig()
	if err != nil {
		return nil, err
	}
	last, err := c.last(cfg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var rel *release.Release
	switch {
	case last == nil || last.Info.Status == release.StatusUninstalled:
		c.log.Info("installing the SPK chart", "chartVersion", ch.Metadata.Version)
		rel, err = c.install(ctx, cfg, ch, vals, last != nil)
	default:
		if last.Info.Status.IsPending() {
			c.log.Warn("release was left pending by an interrupted run; marking it failed to upgrade it",
				"revision", last.Version, "status", last.Info.Status)
			last.SetStatus(release.StatusFailed, "left "+last.Info.Status.String()+" by an interrupted run")
			if err := cfg.Releases.Update(last); err != nil {
				return nil, fmt.Errorf("marking release %s revision %d failed: %w", c.opts.ReleaseName, last.Version, err)
			}
		}
		c.log.Info("upgrading the SPK chart", "fromRevision", last.Version, "chartVersion", ch.Metadata.Version)
		rel, err = c.upgrade(ctx, cfg, ch, vals)
	}
	if err != nil {
		return nil, err
	}
	c.log.Info("SPK chart applied", "revision", rel.Version, "status", rel.Info.Status, "took", time.Since(start).Round(time.Millisecond))
	return rel, nil
}

func (c *Client) install(ctx context.Context, cfg *action.Configuration, ch *chart.Chart, vals map[string]any, replace bool) (*release.Release, error) {
	inst := action.NewInstall(cfg)
	inst.ReleaseName = c.opts.ReleaseName
	inst.Namespace = c.opts.Namespace
	inst.CreateNamespace = true
	inst.Replace = replace
	// applyCRDs did them, and keeps them current on upgrades too (Helm
	// never updates crds/ after the first install).
	inst.SkipCRDs = true
	inst.Wait = c.opts.Wait
	inst.Timeout = c.opts.Timeout
	rel, err := inst.RunWithContext(ctx, ch, vals)
	if err != nil {
		return nil, fmt.Errorf("installing release %s in %s: %w", c.opts.ReleaseName, c.opts.Namespace, err)
	}
	return rel, nil
}

func (c *Client) upgrade(ctx context.Context, cfg *action.Configuration, ch *chart.Chart, vals map[string]any) (*release.Release, error) {
	up := action.NewUpgrade(cfg)
	up.Namespace = c.opts.Namespace
	// The given values replace the previous revision's; without this Helm
	// reuses the old ones when the new map is empty.
	up.ResetValues = true
	up.SkipCRDs = true
	up.Wait = c.opts.Wait
	up.Timeout = c.opts.Timeout
	up.MaxHistory = 10
	rel, err := up.RunWithContext(ctx, c.opts.ReleaseName, ch, vals)
	if err != nil {
		return nil, fmt.Errorf("upgrading release %s in %s: %w", c.opts.ReleaseName, c.opts.Namespace, err)
	}
	return rel, nil
}

// Uninstall removes the release and every object it made, and the TMM
// API's certificate Secrets; it is not an error when there is none. The CRDs stay (deleting them would delete every
// SPK resource in the cluster), and so does the namespace.
func (c *Client) Uninstall(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg, err := c.actionConfig()
	if err != nil {
		return err
	}
	un := action.NewUninstall(cfg)
	un.IgnoreNotFound = true
	un.Wait = c.opts.Wait
	un.Timeout = c.opts.Timeout
	start := time.Now()
	res, err := un.Run(c.opts.ReleaseName)
	if err != nil {
		return fmt.Errorf("uninstalling release %s from %s: %w", c.opts.ReleaseName, c.opts.Namespace, err)
	}
	if res != nil {
		c.log.Info("SPK chart uninstalled", "took", time.Since(start).Round(time.Millisecond))
	}
	return c.removeAPITLS(ctx)
}
