package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/logging"

	"github.com/ecrsync/ecrsync/internal/registry"
)

// credentialEnv are the variables that name a source of AWS credentials to the default chain
// (AWS SDKs and Tools reference guide, "Standardized credential providers").
var credentialEnv = []string{
	"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
}

// credentialSource says whether the environment names a source of AWS credentials other than an
// instance role: a variable of credentialEnv, or a shared config or credentials file.
func credentialSource(getenv func(string) string) bool {
	for _, k := range credentialEnv {
		if getenv(k) != "" {
			return true
		}
	}
	home, _ := os.UserHomeDir()
	files := []string{getenv("AWS_SHARED_CREDENTIALS_FILE"), getenv("AWS_CONFIG_FILE")}
	if home != "" {
		files = append(files, filepath.Join(home, ".aws", "credentials"), filepath.Join(home, ".aws", "config"))
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return false
}

// noCredentials wraps the default chain's provider: when it finds nothing and the environment
// names no source but an instance role (which answered no), the error says that no AWS
// credentials were found (registry.ErrNoCredentials, permanent, with a hint on how to provide
// them) instead of the chain's last step ("no EC2 IMDS role found"), which is logged at Debug.
type noCredentials struct {
	aws.CredentialsProvider
	getenv func(string) string
	log    *slog.Logger
}

func (p noCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := p.CredentialsProvider.Retrieve(ctx)
	if err != nil && !credentialSource(p.getenv) {
		p.log.DebugContext(ctx, "AWS credentials", "err", err)
		return c, errNoAWSCredentials{}
	}
	return c, err
}

// errNoAWSCredentials is registry.ErrNoCredentials, for AWS.
type errNoAWSCredentials struct{}

func (errNoAWSCredentials) Error() string {
	return "no AWS credentials were found (none in the environment, no shared config or credentials file, no instance role)"
}

func (errNoAWSCredentials) Is(target error) bool { return target == registry.ErrNoCredentials }

// sdkLogger routes the AWS SDK's own log lines through the process's logger, so that they
// honour --log-level and --log-format: warnings at Warn, the rest at Debug.
func sdkLogger(log *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		level := slog.LevelDebug
		if c == logging.Warn {
			level = slog.LevelWarn
		}
		log.Log(context.Background(), level, fmt.Sprintf(format, v...), "from", "aws-sdk")
	})
}
