package objectstore

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func validConfig() Config {
	return Config{Endpoint: "https://obs.eu-de.otc.t-systems.com", Bucket: "shop-dcs-backups", AccessKey: "AK", SecretKey: "SK-secret"}
}

func TestConfigValidation(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string // part of the error; "" means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"http without insecure endpoints", func(c *Config) { c.Endpoint = "http://10.0.0.1:9000" }, "plain http is only allowed"},
		{"http with insecure endpoints", func(c *Config) { c.Endpoint = "http://10.0.0.1:9000"; c.AllowInsecure = true }, ""},
		{"other scheme", func(c *Config) { c.Endpoint = "ftp://obs" }, "the scheme must be https"},
		{"no scheme", func(c *Config) { c.Endpoint = "obs.eu-de.otc.t-systems.com" }, "the scheme must be https"},
		{"no host", func(c *Config) { c.Endpoint = "https://" }, "no host"},
		{"credentials in the URL", func(c *Config) { c.Endpoint = "https://ak:sk@obs" }, "not in the URL"},
		{"a path", func(c *Config) { c.Endpoint = "https://obs/bucket" }, "only scheme, host and port"},
		{"a query", func(c *Config) { c.Endpoint = "https://obs?x=1" }, "only scheme, host and port"},
		{"trailing slash", func(c *Config) { c.Endpoint = "https://obs:443/" }, ""},
		{"bad bucket", func(c *Config) { c.Bucket = "Shop_Backups" }, "bucket"},
		{"no bucket", func(c *Config) { c.Bucket = "" }, "bucket"},
		{"no access key", func(c *Config) { c.AccessKey = "" }, "access key and the secret key are required"},
		{"no secret key", func(c *Config) { c.SecretKey = "" }, "access key and the secret key are required"},
		{"prefix with ..", func(c *Config) { c.Prefix = "prod/../x" }, `".."`},
		{"prefix starting with /", func(c *Config) { c.Prefix = "/prod" }, "empty"},
		{"small parts", func(c *Config) { c.PartSize = MinPartSize - 1 }, "part size"},
		{"huge parts", func(c *Config) { c.PartSize = MaxPartSize + 1 }, "part size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			cfg := validConfig()
			tc.edit(&cfg)
			c, err := New(cfg)
			if tc.want == "" {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(c).NotTo(BeNil())
				return
			}
			g.Expect(err).To(MatchError(ContainSubstring(tc.want)))
			g.Expect(Classify(err)).To(Equal(ClassInvalid))
			g.Expect(err.Error()).NotTo(ContainSubstring("SK-secret"))
		})
	}
}

func TestConfigDefaultsAndPrefix(t *testing.T) {
	g := NewWithT(t)
	cfg := validConfig()
	cfg.Prefix = "prod"
	c, err := New(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	got := c.Config()
	g.Expect(got.Prefix).To(Equal("prod/"), "the prefix is a folder")
	g.Expect(got.Region).To(Equal(DefaultRegion))
	g.Expect(got.Timeout).To(Equal(DefaultTimeout))
	g.Expect(got.PartTimeout).To(Equal(DefaultPartTimeout))
	g.Expect(got.PartSize).To(BeEquivalentTo(DefaultPartSize))
	g.Expect(got.UploadConcurrency).To(Equal(DefaultUploadConcurrency))
	g.Expect(got.ObjectKey("shop/b1/manifest.json")).To(Equal("prod/shop/b1/manifest.json"))
	g.Expect(cfg.ObjectKey("x")).To(Equal("prod/x"), "also before New normalised it")
	g.Expect(Config{}.ObjectKey("x")).To(Equal("x"))

	cfg.Timeout, cfg.PartTimeout = time.Second, time.Minute
	c, err = New(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.Config().Timeout).To(Equal(time.Second))
	g.Expect(c.Config().PartTimeout).To(Equal(time.Minute))

	long := validConfig()
	long.Prefix = strings.Repeat("p", 1000) + "/"
	c, err = New(long)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = c.objectKey(strings.Repeat("k", 30))
	g.Expect(err).To(MatchError(ContainSubstring("with the prefix is longer than 1024 bytes")))
}

func TestConfigPrintsNoSecret(t *testing.T) {
	g := NewWithT(t)
	cfg := validConfig()
	for _, s := range []string{cfg.String(), cfg.GoString()} {
		g.Expect(s).NotTo(ContainSubstring("SK-secret"))
		g.Expect(s).To(ContainSubstring("SecretKey:(redacted)"))
		g.Expect(s).To(ContainSubstring("shop-dcs-backups"))
	}
	cfg.SecretKey = ""
	g.Expect(cfg.String()).To(HaveSuffix("SecretKey:}"), "an empty key shows as empty")
}
