// Bounds of every string, list and map a tenant writes into an Environment or
// a Project (docs/contract.md, "Bounds"). Every value a tenant writes is
// hostile input: unbounded, a few hundred objects of 1.5 MiB each would fill
// the operator's memory, and the API server refuses a CRD's CEL rules whose
// estimated cost is unbounded. The CRDs refuse what is over them at admission
// (maxLength, maxItems, maxProperties); the parser (config.cc, environment.cc,
// project.cc) refuses the same for servers that stored an object before the
// CRD had them. scripts/gen-crds.py reads the numbers from this file, so the
// two cannot drift: keep every line `inline constexpr size_t kName = N;`.
//
// Lengths count characters (Unicode code points), as OpenAPI's maxLength does.
#pragma once

#include <cstddef>

namespace v1alpha1::bounds {

// Strings.
inline constexpr size_t kName = 253;     // object names (projectRef, Secret, ConfigMap, storage
                                         // class, gRPC service), env names, resource names
inline constexpr size_t kLabel = 63;     // DNS labels: sources, init containers, services,
                                         // volumes, mounts, template keys, database
inline constexpr size_t kPortName = 15;  // IANA service name (a port given by name)
inline constexpr size_t kUrl = 2048;     // repositoryUrl, status.url
inline constexpr size_t kBranch = 255;   // git's own limit of a ref name component
inline constexpr size_t kImage = 512;    // image references
inline constexpr size_t kPath = 1024;    // workingDir, mountPath, subPath, probe paths, build paths
inline constexpr size_t kValue = 32768;  // env values, command and args items (inline scripts)
inline constexpr size_t kQuantity = 64;  // a quantity given as a string
inline constexpr size_t kHeaderName = 256;
inline constexpr size_t kHeaderValue = 4096;
inline constexpr size_t kFieldPath = 256;      // valueFrom.fieldRef.fieldPath, apiVersion
inline constexpr size_t kInstallationId = 19;  // a GitHub App installation id (int64)

// Lists.
inline constexpr size_t kEnvItems = 128;  // env, envVars
inline constexpr size_t kArgItems = 64;   // command, args, exec.command
inline constexpr size_t kPortItems = 32;
inline constexpr size_t kMountItems = 16;
inline constexpr size_t kInitContainerItems = 16;
inline constexpr size_t kServiceItems = 8;
inline constexpr size_t kVolumeItems = 8;
inline constexpr size_t kEnvironmentSourceItems = 16;
inline constexpr size_t kProjectSourceItems = 32;
inline constexpr size_t kHeaderItems = 16;
inline constexpr size_t kAccessModeItems = 4;
inline constexpr size_t kBuildItems = 16;
inline constexpr size_t kConditionItems = 16;  // status.conditions (the operator writes 6)

// Maps.
inline constexpr size_t kResourceProperties = 16;  // resources.requests, resources.limits
inline constexpr size_t kTemplateProperties = 8;   // Project spec.templates
inline constexpr size_t kValuesProperties = 256;   // a template's free-form values (top level)
// Sizes the schema cannot state (parser only).
inline constexpr size_t kValuesBytes = 256 << 10;  // a template's values, serialized

}  // namespace v1alpha1::bounds
