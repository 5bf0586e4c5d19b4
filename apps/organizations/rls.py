"""Row-level security as reusable migration operations.

Every tenant table (and its history table) gets RLS *enabled and forced* and the same policies:

* ``tenant_isolation`` (permissive, all commands): ``organization_id = (SELECT kura_current_org())``
  for reads and writes. Without a context ``kura_current_org()`` is NULL, which matches nothing.
* ``phi_restriction`` (restrictive, tables with ``data_classification``): CLINICAL_PHI rows only for the
  roles in ``kura_phi_allowed()``; being restrictive it narrows the tenant policy and never widens it.
* ``own_memberships`` (membership table only): a user may read their own memberships before an
  organization is chosen.
* ``role_restriction`` (restrictive, only when ``roles`` is given): rows only for those values of
  ``app.user_role``. The billing tables, the only ones given roles, have had it folded into their tenant policy
  since billing migration 0006 (``organization_id = (SELECT kura_current_org_for_roles(...))``), which the
  planner estimates like a plain organization filter; their newer tables get that folded policy directly
  (``roles_in_tenant_policy=True``).

The sub-selects make PostgreSQL evaluate each setting once per query (an InitPlan), so the
``organization_id`` indexes stay usable.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from psycopg import sql

# SQL functions the policies call. Created once, in organizations' first migration.
CONTEXT_FUNCTIONS_SQL = """
CREATE FUNCTION kura_current_org() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT NULLIF(current_setting('app.current_org', true), '')::uuid $$;

CREATE FUNCTION kura_current_role() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT NULLIF(current_setting('app.user_role', true), '') $$;

CREATE FUNCTION kura_current_user_id() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT NULLIF(current_setting('app.user_id', true), '')::bigint $$;

-- Keep in step with apps.organizations.access_map.PHI_DATABASE_ROLES (a test compares them).
CREATE FUNCTION kura_phi_allowed() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(kura_current_role() IN ('owner', 'clinician', 'billing', 'front_desk', 'partner_phi'), false) $$;
"""

DROP_CONTEXT_FUNCTIONS_SQL = """
DROP FUNCTION kura_phi_allowed();
DROP FUNCTION kura_current_user_id();
DROP FUNCTION kura_current_role();
DROP FUNCTION kura_current_org();
"""


def ddl(template: str, **identifiers: str) -> str:
    """A DDL statement with `{name}` placeholders filled by safely quoted identifiers (DDL takes no binds)."""
    return sql.SQL(template).format(**{k: sql.Identifier(v) for k, v in identifiers.items()}).as_string(None)


def runtime_role() -> str:
    """The PostgreSQL role requests run as (the `default` database user)."""
    return str(settings.DATABASES["default"]["USER"])


RUNTIME_ALIAS = "default"
_BYPASSES_RLS_SQL = "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"


def refuse_runtime_role_bypassing_rls(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """`connection_created` receiver: a runtime connection (`default`, or the reports' `replica`) whose role
    bypasses row-level security (a superuser, or BYPASSRLS) is closed and refused. Through it every request
    would read every organization's rows: the policies are the guarantee, and some reads (the patient lists)
    filter on nothing else.

    The check runs on the raw connection, once per new connection, unseen by Django's query log."""
    if connection.alias not in settings.RUNTIME_DATABASES:
        return
    with connection.connection.cursor() as cursor:
        row = cursor.execute(_BYPASSES_RLS_SQL).fetchone()
    if row is None or row[0]:
        role = connection.settings_dict.get("USER")
        connection.close()
        raise ImproperlyConfigured(
            f"The database role {role!r} of the {connection.alias!r} connection bypasses row-level security (a "
            "superuser or BYPASSRLS). Requests must run as a role the policies apply to (README.md, "
            '"An external PostgreSQL").'
        )


def _policy(name: str, table: str, kind: str, condition: sql.Composable) -> str:
    """CREATE POLICY `name` (PERMISSIVE or RESTRICTIVE, for all commands) with `condition` for reads and writes."""
    statement = sql.SQL("CREATE POLICY {} ON {} AS {} FOR ALL USING ({}) WITH CHECK ({})").format(
        sql.Identifier(name), sql.Identifier(table), sql.SQL(kind), condition, condition
    )
    return statement.as_string(None)


class EnableTenantRLS(Operation):
    """Enable and force RLS with Kura's policies on a model's table and on its history table."""

    reduces_to_sql = True
    reversible = True

    def __init__(
        self,
        model_name: str,
        *,
        org_column: str = "organization_id",
        classified: bool = False,
        member_column: str | None = None,
        history: bool = True,
        roles: tuple[str, ...] = (),
        roles_in_tenant_policy: bool = False,
    ) -> None:
        if roles_in_tenant_policy and not roles:
            raise ValueError("roles_in_tenant_policy needs the roles.")
        self.model_name = model_name
        self.org_column = org_column
        self.classified = classified
        self.member_column = member_column
        self.history = history
        self.roles = tuple(roles)
        self.roles_in_tenant_policy = roles_in_tenant_policy

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {"org_column": self.org_column, "classified": self.classified}
        if self.member_column:
            kwargs["member_column"] = self.member_column
        if not self.history:
            kwargs["history"] = False
        if self.roles:
            kwargs["roles"] = self.roles
        if self.roles_in_tenant_policy:
            kwargs["roles_in_tenant_policy"] = True
        return self.__class__.__name__, [self.model_name], kwargs

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        """Policies live only in the database; the model state is unchanged."""

    def _tables(self, app_label: str, state: ProjectState) -> list[tuple[str, bool]]:
        """(table, is_history) pairs this operation covers."""
        tables = [(state.apps.get_model(app_label, self.model_name)._meta.db_table, False)]
        if self.history:
            history_model = state.apps.get_model(app_label, f"historical{self.model_name.lower()}")
            tables.append((history_model._meta.db_table, True))
        return tables

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        roles = sql.SQL("ARRAY[{}]::text[]").format(sql.SQL(", ").join(map(sql.Literal, self.roles)))
        org = sql.Identifier(self.org_column)
        if self.roles_in_tenant_policy:
            tenant = sql.SQL("{} = (SELECT kura_current_org_for_roles({}))").format(org, roles)
        else:
            tenant = sql.SQL("{} = (SELECT kura_current_org())").format(org)
        allowed = sql.SQL("(SELECT kura_current_role()) = ANY ({})").format(roles)
        phi = sql.SQL("data_classification <> 'CLINICAL_PHI' OR (SELECT kura_phi_allowed())")
        for table, is_history in self._tables(app_label, to_state):
            names = {"table": table, "runtime": runtime_role()}
            schema_editor.execute(ddl("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY", **names))
            schema_editor.execute(ddl("ALTER TABLE {table} FORCE ROW LEVEL SECURITY", **names))
            schema_editor.execute(_policy("tenant_isolation", table, "PERMISSIVE", tenant))
            if self.classified:
                schema_editor.execute(_policy("phi_restriction", table, "RESTRICTIVE", phi))
            if self.roles and not self.roles_in_tenant_policy:
                schema_editor.execute(_policy("role_restriction", table, "RESTRICTIVE", allowed))
            if self.member_column and not is_history:
                statement = (
                    "CREATE POLICY own_memberships ON {table} AS PERMISSIVE FOR SELECT "
                    "USING ({member} = (SELECT kura_current_user_id()))"
                )
                schema_editor.execute(ddl(statement, member=self.member_column, **names))
            if is_history:
                # The audit trail is append-only for the app; only the user link may be nulled when a
                # user is deleted (Django's SET_NULL).
                schema_editor.execute(ddl("REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {runtime}", **names))
                schema_editor.execute(ddl("GRANT UPDATE (history_user_id) ON {table} TO {runtime}", **names))

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        for table, is_history in self._tables(app_label, from_state):
            names = {"table": table, "runtime": runtime_role()}
            statements = [
                f"DROP POLICY IF EXISTS {policy} ON {{table}}"
                for policy in ("role_restriction", "own_memberships", "phi_restriction", "tenant_isolation")
            ]
            statements += [
                "ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
                "ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
            ]
            if is_history:
                statements.append("GRANT UPDATE, DELETE ON {table} TO {runtime}")
            for statement in statements:
                schema_editor.execute(ddl(statement, **names))

    def describe(self) -> str:
        return f"Enable row-level security on {self.model_name}" + (" and its history" if self.history else "")

    @property
    def migration_name_fragment(self) -> str:
        return f"rls_{self.model_name.lower()}"


class AddCompositeForeignKey(Operation):
    """A foreign key over several columns, e.g. (organization_id, patient_id) -> patient (organization_id, id).

    Django cannot declare these; PostgreSQL enforces them even where RLS would hide the parent row, so a row of
    one organization can never point at another organization's row.
    """

    reduces_to_sql = True
    reversible = True

    def __init__(
        self,
        model_name: str,
        name: str,
        columns: list[str],
        to_model: str,
        to_columns: list[str],
        on_delete: str = "RESTRICT",
    ) -> None:
        self.model_name = model_name
        self.name = name
        self.columns = columns
        self.to_model = to_model
        self.to_columns = to_columns
        self.on_delete = on_delete

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (
            self.__class__.__name__,
            [],
            {
                "model_name": self.model_name,
                "name": self.name,
                "columns": self.columns,
                "to_model": self.to_model,
                "to_columns": self.to_columns,
                "on_delete": self.on_delete,
            },
        )

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        """The constraint lives only in the database."""

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        table = to_state.apps.get_model(app_label, self.model_name)._meta.db_table
        target_app, _, target_name = self.to_model.rpartition(".")
        target = to_state.apps.get_model(target_app or app_label, target_name)._meta.db_table
        if self.on_delete not in {"RESTRICT", "CASCADE", "NO ACTION"}:
            raise ValueError(f"Unsupported ON DELETE action: {self.on_delete}")
        statement = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE ").format(
            sql.Identifier(table),
            sql.Identifier(self.name),
            sql.SQL(", ").join(map(sql.Identifier, self.columns)),
            sql.Identifier(target),
            sql.SQL(", ").join(map(sql.Identifier, self.to_columns)),
        ) + sql.SQL(self.on_delete)  # one of the fixed keywords checked above
        schema_editor.execute(statement.as_string(None))

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        table = from_state.apps.get_model(app_label, self.model_name)._meta.db_table
        schema_editor.execute(ddl("ALTER TABLE {table} DROP CONSTRAINT {name}", table=table, name=self.name))

    def describe(self) -> str:
        return f"Add composite foreign key {self.name} on {self.model_name}"


class MakeAppendOnly(Operation):
    """Take UPDATE, DELETE and TRUNCATE on a table away from the runtime role: rows can be added, never changed.

    For logs that are themselves the audit trail (e.g. the PHI access log). The owner role keeps its rights for
    retention jobs.
    """

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return self.__class__.__name__, [self.model_name], {}

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        """Privileges live only in the database."""

    def _table(self, app_label: str, state: ProjectState) -> str:
        return state.apps.get_model(app_label, self.model_name)._meta.db_table

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        table = self._table(app_label, to_state)
        statement = "REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {runtime}"
        schema_editor.execute(ddl(statement, table=table, runtime=runtime_role()))

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        table = self._table(app_label, from_state)
        schema_editor.execute(ddl("GRANT UPDATE, DELETE ON {table} TO {runtime}", table=table, runtime=runtime_role()))

    def describe(self) -> str:
        return f"Make {self.model_name} append-only for the runtime role"

    @property
    def migration_name_fragment(self) -> str:
        return f"append_only_{self.model_name.lower()}"
