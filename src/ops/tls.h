// Serving certificates for the secure metrics endpoint: the one given as PEM
// files (a cert-manager Secret, say), or, when none is given, a self-signed
// one made at start, as controller-runtime's metrics server does. Scrapers
// then skip verification (insecureSkipVerify) or pin the given CA.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ops {

struct CertificatePem {
  std::string cert;  // the certificate (chain), PEM
  std::string key;   // its private key, PEM
};

// A P-256 key and a certificate for it, signed by itself, valid from an hour
// ago (clock skew) for `validity`. The subject's CN is the first host; every
// host goes into subjectAltName (IP literals as IP addresses).
absl::StatusOr<CertificatePem> SelfSignedCertificate(const std::vector<std::string>& hosts,
                                                     absl::Duration validity = absl::Hours(24 *
                                                                                           365));

// The hosts a self-signed serving certificate names: localhost, 127.0.0.1,
// ::1 and this host's name ($POD_NAME's pod has the host name of the pod).
std::vector<std::string> DefaultCertificateHosts();

}  // namespace ops
