/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OVF manifests (.mf): one "SHA1(NAME)= HEX" or "SHA256(NAME)= HEX" line
 * per file (OVF 1.x exports use SHA-1, OVF 2.0 and vSphere 6.5 and later
 * SHA-256), and the certificate (.cert) that signs the manifest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "driver.h"
#include "import.h"
#include "xalloc.h"

#define HASH_BLOCK (1u << 20)

static int digest_range(const struct manifest_file *f, const EVP_MD *md, unsigned char *out,
			unsigned *out_len, struct kvm_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *buf = malloc(HASH_BLOCK);
	uint64_t done = 0;
	int r = 0;

	if (!ctx || !buf) {
		r = kvm_error_set(err, -ENOMEM, "%s: out of memory for its digest", f->name);
		goto out;
	}
	EVP_DigestInit_ex(ctx, md, NULL);
	while (done < f->size) {
		size_t n = f->size - done < HASH_BLOCK ? (size_t)(f->size - done) : HASH_BLOCK;

		r = io_pread_exact(f->fd, f->name, buf, n, f->offset + done, err);
		if (r < 0)
			goto out;
		EVP_DigestUpdate(ctx, buf, n);
		done += n;
	}
	EVP_DigestFinal_ex(ctx, out, out_len);
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return r;
}

static void to_hex(const unsigned char *bytes, unsigned len, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned i = 0; i < len; i++) {
		hex[2 * i] = digits[bytes[i] >> 4];
		hex[2 * i + 1] = digits[bytes[i] & 15];
	}
	hex[2 * len] = '\0';
}

/* One manifest line: ALGO(NAME)= HEX, with the parts cut out of LINE. */
static bool split_line(char *line, char **algo, char **name, char **hex)
{
	char *open = strchr(line, '('), *close = strrchr(line, ')'), *eq;

	if (!open || !close || close < open)
		return false;
	eq = close + 1;
	while (*eq == ' ')
		eq++;
	if (*eq != '=')
		return false;
	*open = '\0';
	*close = '\0';
	*algo = line;
	*name = open + 1;
	*hex = eq + 1;
	while (**hex == ' ')
		(*hex)++;
	for (char *e = *hex + strlen(*hex); e > *hex && (e[-1] == ' ' || e[-1] == '\r'); e--)
		e[-1] = '\0';
	return true;
}

int manifest_verify(const char *text, const char *mf_name, const struct manifest_file *files,
		    size_t n_files, struct strbuf *summary, struct kvm_error *err)
{
	char *copy = xstrdup(text), *save = NULL;
	unsigned n_sha1 = 0, n_sha256 = 0, line_no = 0;
	int r = 0;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned char digest[EVP_MAX_MD_SIZE];
		char hex[2 * EVP_MAX_MD_SIZE + 1];
		const struct manifest_file *f = NULL;
		char *algo, *name, *want;
		const EVP_MD *md;
		unsigned len;

		line_no++;
		if (strspn(line, " \r\t") == strlen(line))
			continue;
		if (!split_line(line, &algo, &name, &want)) {
			r = kvm_error_set(err, -EINVAL, "%s:%u: not a manifest line", mf_name, line_no);
			goto out;
		}
		if (strcasecmp(algo, "SHA1") == 0) {
			md = EVP_sha1();
			n_sha1++;
		} else if (strcasecmp(algo, "SHA256") == 0) {
			md = EVP_sha256();
			n_sha256++;
		} else {
			r = kvm_error_set(err, -ENOTSUP, "%s:%u: unknown digest %s", mf_name, line_no,
					  algo);
			goto out;
		}
		for (size_t i = 0; i < n_files; i++)
			if (strcmp(files[i].name, name) == 0)
				f = &files[i];
		if (!f) {
			r = kvm_error_set(err, -ENOENT, "%s: lists %s, which is missing", mf_name, name);
			goto out;
		}
		r = digest_range(f, md, digest, &len, err);
		if (r < 0)
			goto out;
		to_hex(digest, len, hex);
		if (strcasecmp(hex, want) != 0) {
			r = kvm_error_set(err, -EBADMSG, "%s: %s digest of %s does not match the manifest: "
					  "the file is damaged or was changed", mf_name, algo, name);
			goto out;
		}
	}
	if (n_sha1 + n_sha256 == 0) {
		r = kvm_error_set(err, -EINVAL, "%s: the manifest lists no file", mf_name);
		goto out;
	}
	strbuf_addf(summary, "%s: %u file%s verified (%s)", mf_name, n_sha1 + n_sha256,
		    n_sha1 + n_sha256 == 1 ? "" : "s",
		    n_sha1 && n_sha256 ? "SHA-1 and SHA-256" : n_sha1 ? "SHA-1" : "SHA-256");
out:
	free(copy);
	return r;
}

void manifest_describe_cert(const char *cert, size_t cert_len, const char *mf_text,
			    size_t mf_len, struct strbuf *out)
{
	BIO *bio = BIO_new_mem_buf(cert, (int)(cert_len > INT32_MAX ? INT32_MAX : cert_len));
	X509 *x509 = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	char *subject = x509 ? X509_NAME_oneline(X509_get_subject_name(x509), NULL, 0) : NULL;
	const char *sig_line = cert;
	char *algo, *name, *hex, *line = NULL;
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	EVP_PKEY *key;
	EVP_MD_CTX *ctx = NULL;
	const EVP_MD *md = NULL;
	int verdict = -1;

	if (!x509) {
		strbuf_addstr(out, "present, but holds no PEM certificate");
		goto out;
	}
	strbuf_addf(out, "signed by %s", subject ? subject : "?");
	/* The first line is "SHA256(vm.mf)= HEX" with the signature. */
	line = xstrndup(sig_line, strcspn(sig_line, "\n"));
	if (split_line(line, &algo, &name, &hex)) {
		md = strcasecmp(algo, "SHA1") == 0 ? EVP_sha1() :
		     strcasecmp(algo, "SHA256") == 0 ? EVP_sha256() : NULL;
		sig_len = strlen(hex) / 2;
		sig = xmalloc(sig_len + 1);
		for (size_t i = 0; i < sig_len; i++) {
			unsigned v;

			if (sscanf(hex + 2 * i, "%2x", &v) != 1)
				md = NULL;
			sig[i] = (unsigned char)v;
		}
	}
	key = X509_get0_pubkey(x509);
	ctx = EVP_MD_CTX_new();
	if (md && key && ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1)
		verdict = EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)mf_text, mf_len);
	strbuf_addstr(out, verdict == 1 ? "; its signature of the manifest holds"
			   : "; its signature of the manifest does NOT hold");
	strbuf_addstr(out, "; whether to trust the signer is not checked");
out:
	EVP_MD_CTX_free(ctx);
	free(sig);
	free(line);
	OPENSSL_free(subject);
	X509_free(x509);
	BIO_free(bio);
}
