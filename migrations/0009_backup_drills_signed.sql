-- Each restore drill result is signed (Ed25519, signing key purpose `backup-drill`): `statement`
-- is the exact JSON text that was signed, so anyone with the published public key can check it
-- without canonicalising anything. Drills recorded before this migration stay unsigned (null).
alter table backup_drills
  add column statement text,
  add column signature text,
  add column signing_kid text;
