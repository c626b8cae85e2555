import {
  bucketExists,
  deleteBucketCompletely,
  describeBucketSecurity,
  ensureSecureBucket,
  hasHttpsOnlyDeny,
  httpsOnlyStatement,
  putBucketPolicyIfChanged,
  putObjectIfChanged,
  regionalDomainName,
  S3_BUCKET_ACTIONS,
} from '../../aws/s3.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import type { Config } from '../../config/schema.js';
import { names } from '../names.js';
import { STEP, type BucketOutputs } from '../outputs.js';

/**
 * The site CloudFront serves from S3: one page that calls the API through the same origin
 * (`/api/*` goes to the ALB), so it works with and without a custom domain.
 */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CloudMart</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:48rem;padding:0 1rem;color:#222}
h1{margin-bottom:.25rem}.muted{color:#666}
ul{list-style:none;padding:0}li{border-bottom:1px solid #eee;padding:.5rem 0;display:flex;justify-content:space-between}
</style>
</head>
<body>
<h1>CloudMart</h1>
<p class="muted">Served by CloudFront from S3; products come from <code>/api/products</code>.</p>
<ul id="products"><li>Loading products…</li></ul>
<script>
(async () => {
  const list = document.getElementById('products');
  try {
    const res = await fetch('/api/products', { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const body = await res.json();
    const items = Array.isArray(body) ? body : (body.products || []);
    list.replaceChildren(...items.map((p) => {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = p.name ?? String(p.id);
      const price = document.createElement('span');
      price.textContent = p.price !== undefined ? String(p.price) : '';
      li.append(name, price);
      return li;
    }));
    if (items.length === 0) list.innerHTML = '<li>No products yet.</li>';
  } catch (e) {
    list.innerHTML = '';
    const li = document.createElement('li');
    li.textContent = 'The API is not answering yet (' + e.message + ').';
    list.append(li);
  }
})();
</script>
</body>
</html>
`;

export const INDEX_CONTENT_TYPE = 'text/html; charset=utf-8';

/** `<stack>-frontend-<account>-<region>`: bucket names are global. */
export async function frontendBucketName(ctx: StepContext): Promise<string> {
  return names.bucket(`${ctx.config.stack}-frontend`, await ctx.aws.accountId(), ctx.config.region);
}

const tagName = (config: Config) => names.of(config, 'frontend');

export const frontendBucketStep = defineStep<BucketOutputs>({
  id: STEP.frontendBucket,
  phase: 1,
  title: 'S3 frontend bucket',
  needs: [],
  actions: [...S3_BUCKET_ACTIONS, 's3:PutObject', 's3:GetObject'],
  describe: (config) => [
    `S3 bucket ${config.stack}-frontend-<account>-${config.region}: public access blocked, SSE-S3, object ownership enforced`,
    'bucket policy: deny every non-HTTPS request (CloudFront read access is added by edge.cdn)',
    'uploads index.html (calls /api/products)',
  ],

  async create(ctx) {
    const bucket = await frontendBucketName(ctx);
    const partition = ctx.aws.partition();
    const { bucketArn } = await ensureSecureBucket(ctx, bucket, { name: tagName(ctx.config) });
    // Only the statement this step owns; edge.cdn adds its own by Sid and the merge keeps both.
    await putBucketPolicyIfChanged(ctx, bucket, {
      Version: '2012-10-17',
      Statement: [httpsOnlyStatement(bucket, partition)],
    });
    await putObjectIfChanged(ctx, bucket, 'index.html', INDEX_HTML, {
      contentType: INDEX_CONTENT_TYPE,
      cacheControl: 'max-age=60',
    });
    return {
      bucketName: bucket,
      bucketArn,
      regionalDomainName: regionalDomainName(bucket, ctx.config.region),
    };
  },

  async verify(ctx) {
    const bucket = await frontendBucketName(ctx);
    const fix = 'cloudmart up --phase 1';
    if (!(await bucketExists(ctx, bucket))) {
      return [
        {
          id: 'edge.frontend-bucket.exists',
          title: 'Frontend bucket exists',
          criterion: 'security-design',
          status: 'fail',
          evidence: `no bucket ${bucket}`,
          fix,
        },
      ];
    }
    const sec = await describeBucketSecurity(ctx, bucket);
    const pab = sec.publicAccessBlock;
    const checks: Check[] = [
      {
        id: 'edge.frontend-bucket.not-public',
        title: 'Frontend bucket is not public (all public access blocked)',
        criterion: 'security-design',
        status: sec.allPublicAccessBlocked && !sec.policyIsPublic ? 'pass' : 'fail',
        evidence: pab
          ? `BlockPublicAcls=${pab.BlockPublicAcls} IgnorePublicAcls=${pab.IgnorePublicAcls} BlockPublicPolicy=${pab.BlockPublicPolicy} RestrictPublicBuckets=${pab.RestrictPublicBuckets}; policy public=${sec.policyIsPublic}`
          : `no public access block; policy public=${sec.policyIsPublic}`,
        fix,
      },
      {
        id: 'edge.frontend-bucket.encryption',
        title: 'Frontend bucket default encryption (SSE-S3)',
        criterion: 'encryption',
        status: sec.encryption ? 'pass' : 'fail',
        evidence: sec.encryption
          ? `SSEAlgorithm=${sec.encryption.algorithm}`
          : 'no default encryption',
        fix,
      },
      {
        id: 'edge.frontend-bucket.https-only',
        title: 'Frontend bucket policy denies non-HTTPS requests',
        criterion: 'encryption',
        status: hasHttpsOnlyDeny(sec.policy, bucket) ? 'pass' : 'fail',
        evidence: sec.policy
          ? `policy statements: ${sec.policy.Statement.map((s) => (typeof s.Sid === 'string' ? s.Sid : '(no Sid)')).join(', ')}`
          : 'no bucket policy',
        fix,
      },
      {
        id: 'edge.frontend-bucket.ownership',
        title: 'Frontend bucket object ownership enforced (ACLs off)',
        criterion: 'security-design',
        status: sec.ownership === 'BucketOwnerEnforced' ? 'pass' : 'fail',
        evidence: `ObjectOwnership=${sec.ownership ?? 'not set'}`,
        fix,
      },
    ];
    return checks;
  },

  async teardown(ctx) {
    const bucket =
      (ctx.previous?.bucketName as string | undefined) ?? (await frontendBucketName(ctx));
    await deleteBucketCompletely(ctx, bucket);
  },
});
