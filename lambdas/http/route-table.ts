/**
 * The one route table: the Lambda API handler, the local server, the OpenAPI document
 * and API Gateway's resources (lib/) all read it. Routes with scope 'local' exist only
 * in local mode.
 */
import { deployedRoutes, type RouteDef } from './route.js';
import { outboxRoute } from './routes/local.js';
import { healthRoute, openApiRoute } from './routes/system.js';
import { authRoutes } from './routes/auth.js';
import { meRoutes } from './routes/me.js';
import { adminRoutes } from './routes/admin.js';
import { oidcRoutes } from './routes/sso-oidc.js';
import { samlRoutes } from './routes/sso-saml.js';
import { taskRoutes } from './routes/tasks.js';
import { projectRoutes } from './routes/projects.js';
import { sectionRoutes } from './routes/sections.js';
import { storyRoutes } from './routes/stories.js';
import { tagRoutes } from './routes/tags.js';
import { searchRoutes } from './routes/search.js';
import { exportRoutes } from './routes/exports.js';
import { exportJobRoutes } from './routes/export-jobs.js';
import { attachmentRoutes } from './routes/attachments.js';
import { customFieldRoutes } from './routes/custom-fields.js';
import { workspaceRoutes } from './routes/workspaces.js';
import { teamRoutes } from './routes/teams.js';
import { messageRoutes } from './routes/messages.js';
import { templateRoutes } from './routes/templates.js';

export const routes: RouteDef[] = [healthRoute, openApiRoute(() => routes), ...authRoutes, ...meRoutes, ...adminRoutes, ...oidcRoutes, ...samlRoutes, ...taskRoutes, ...storyRoutes, ...tagRoutes, ...projectRoutes, ...sectionRoutes, ...searchRoutes, ...exportRoutes, ...exportJobRoutes, ...attachmentRoutes, ...customFieldRoutes, ...messageRoutes, ...templateRoutes, ...workspaceRoutes, ...teamRoutes, outboxRoute];

/** The routes deployed behind API Gateway. */
export const apiRoutes = (): RouteDef[] => deployedRoutes(routes);
