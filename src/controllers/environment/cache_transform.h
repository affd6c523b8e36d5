// CacheTransform: what the operator's informers keep of each object they
// cache (client-go's SharedInformer.SetTransform), applied on ingest so the
// rest is never held.
//
// Kept, per resource: the metadata the operator reads (name, namespace, uid,
// resourceVersion, generation, labels, annotations, deletionTimestamp; for
// Environments also finalizers and creationTimestamp), every field the
// builders set (manifests.h) — the planner's subset check (subset.h) walks
// exactly those, so dropping one would make every resync write — and the
// Deployment status fields the planner reads. Dropped: server defaults,
// status the operator never reads, clusterIP, volumeName and the like.
//
// Objects are projected into a document whose memory pool is sized to fit
// exactly (one allocation), so a small cached object stays small.
#pragma once

#include <functional>

#include "kube/object.h"
#include "kube/resource.h"

namespace controllers {

using ObjectTransform = std::function<kube::Object(kube::Object)>;

// The transform for the informer of res; empty (keep objects as decoded) for
// a resource the operator does not cache.
ObjectTransform CacheTransform(const kube::Resource& res);

}  // namespace controllers
